//! Windows: pagefile-backed named file mappings (`CreateFileMappingW(INVALID_HANDLE_VALUE, ...)`),
//! through `windows-sys`. Unlike the `shared_memory` crate, no file under `%TEMP%` is involved,
//! so `Global\` names work and native programs see the same object.
//!
//! This file holds the block's own mapping; the objects behind cross-process `wait`/`notify`
//! live in `windows_waiters.rs`.

use std::ffi::c_void;
use std::io;
use std::mem;
use std::os::windows::io::{AsRawHandle, HandleOrNull, OwnedHandle};
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use windows_sys::Win32::Foundation::{
  GetLastError, ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_COMMITMENT_LIMIT, ERROR_DISK_FULL,
  ERROR_FILE_NOT_FOUND, ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Memory::{
  CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualQuery,
  FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS,
  PAGE_READWRITE,
};

use super::{next_slice, settled_before_sleep, Access, WaitOutcome};

/// The cross-process waiter table behind [`Segment::wait`] and [`Segment::wake`].
#[path = "windows_waiters.rs"]
mod waiters;

use waiters::WaiterTable;

/// Lock tokens, and owners' liveness marks: a named mutex per thread and block.
#[path = "owners_windows.rs"]
pub(super) mod owners;

use owners::OwnerMarks;

/// A view of a named file mapping, and the mapping's handle. A Windows name lives as long as any
/// handle to the object, so the handle is what keeps the name: it stays open until the block's
/// owner lets go of the name ([`Segment::release`]) or the segment is dropped. The view does not
/// need it: a mapped view keeps the memory itself.
#[derive(Debug)]
pub struct Segment {
  /// `None` once released.
  handle: Mutex<Option<OwnedHandle>>,
  view: *mut c_void,
  len: usize,
  /// The OS name, for the objects `wait`/`notify` share with other processes.
  os_name: String,
  /// Those objects, made on the first `wait` or `notify`.
  waiters: OnceLock<WaiterTable>,
  /// The mutexes that mark this process's lock owners alive (see `owners_windows.rs`).
  owners: OwnerMarks,
}

// SAFETY: the view belongs to this `Segment` alone and is unmapped only by its `Drop`; a view may
// be used and unmapped from any thread. The handle is an `OwnedHandle` behind a `Mutex`, which is
// `Send` and `Sync` by itself.
unsafe impl Send for Segment {}
// SAFETY: see `Send`: `&Segment` only gives out the address and length of the view.
unsafe impl Sync for Segment {}

fn wide(os_name: &str) -> Vec<u16> {
  os_name.encode_utf16().chain(std::iter::once(0)).collect()
}

fn last_error() -> io::Error {
  io::Error::last_os_error()
}

/// The handle a Windows function returned, owned from now on; NULL (how those functions report a
/// failure) becomes the calling thread's last error.
fn owned(handle: HandleOrNull) -> io::Result<OwnedHandle> {
  OwnedHandle::try_from(handle).map_err(|_| last_error())
}

impl Segment {
  /// Creates the mapping `os_name` exclusively with `len` bytes committed from the pagefile (so a
  /// lack of memory is an error here, never on first write) and maps all of it read-write.
  /// `mode` has no meaning on Windows: the object gets the creator's default security.
  pub fn create(os_name: &str, len: usize, _mode: u32) -> io::Result<Segment> {
    let name = wide(os_name);
    let size = len as u64;
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call; a null security
    // descriptor means the default one; INVALID_HANDLE_VALUE asks for a pagefile-backed section.
    // The call returns NULL or a new handle that nothing else owns and CloseHandle
    // closes: what `HandleOrNull::from_raw_handle` requires.
    let handle = unsafe {
      HandleOrNull::from_raw_handle(CreateFileMappingW(
        INVALID_HANDLE_VALUE,
        ptr::null(),
        PAGE_READWRITE,
        (size >> 32) as u32,
        size as u32,
        name.as_ptr(),
      ))
    };
    let handle = owned(handle).map_err(creation_error)?;
    // SAFETY: reads the calling thread's last-error value, set by the call just above.
    if unsafe { GetLastError() } == ERROR_ALREADY_EXISTS {
      // CreateFileMappingW opened the existing object instead of creating one; dropping `handle`
      // closes it again.
      return Err(io::Error::from_raw_os_error(ERROR_ALREADY_EXISTS as i32));
    }
    Segment::map(handle, len, Access::ReadWrite, os_name)
  }

  /// Attaches to the existing mapping `os_name` and maps all of it. Its length is the view's
  /// region size, which Windows rounds up to whole pages.
  /// `size` and `own_only` are for Unix: a view of a Windows section maps what the section holds,
  /// and another user's object carries that user's security descriptor, which alone decides
  /// whether this process may open it.
  pub fn open(
    os_name: &str,
    access: Access,
    _size: Option<usize>,
    _own_only: bool,
  ) -> io::Result<Segment> {
    let name = wide(os_name);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
    // The call returns NULL or a new handle that nothing else owns and CloseHandle
    // closes: what `HandleOrNull::from_raw_handle` requires.
    let handle = unsafe {
      HandleOrNull::from_raw_handle(OpenFileMappingW(desired_access(access), 0, name.as_ptr()))
    };
    Segment::map(owned(handle)?, 0, access, os_name)
  }

  /// Maps `len` bytes of `handle` (0: all of it).
  fn map(handle: OwnedHandle, len: usize, access: Access, os_name: &str) -> io::Result<Segment> {
    // SAFETY: `handle` is a valid file-mapping handle opened with at least `access`; offset 0 and
    // a length within the section (or 0 for all of it) are valid arguments.
    let view: MEMORY_MAPPED_VIEW_ADDRESS =
      unsafe { MapViewOfFile(handle.as_raw_handle(), desired_access(access), 0, 0, len) };
    if view.Value.is_null() {
      return Err(last_error());
    }
    let len = if len == 0 {
      // SAFETY: zero is a valid bit pattern for this plain C struct.
      let mut info: MEMORY_BASIC_INFORMATION = unsafe { mem::zeroed() };
      // SAFETY: `view.Value` is the base of the view just mapped; `info` is writable and its size
      // is passed along.
      let written = unsafe {
        VirtualQuery(
          view.Value,
          &mut info,
          mem::size_of::<MEMORY_BASIC_INFORMATION>(),
        )
      };
      if written == 0 {
        let err = last_error();
        // SAFETY: `view` was returned by MapViewOfFile above and is not used after this.
        unsafe { UnmapViewOfFile(view) };
        return Err(err);
      }
      info.RegionSize
    } else {
      len
    };
    Ok(Segment {
      handle: Mutex::new(Some(handle)),
      view: view.Value,
      len,
      os_name: os_name.to_owned(),
      waiters: OnceLock::new(),
      owners: OwnerMarks::new(os_name),
    })
  }

  pub(super) fn owner_marks(&self) -> &OwnerMarks {
    &self.owners
  }

  /// The first byte of the view.
  pub fn as_ptr(&self) -> *mut u8 {
    self.view.cast()
  }

  /// The mapped length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }

  fn waiter_table(&self) -> io::Result<&WaiterTable> {
    if let Some(table) = self.waiters.get() {
      return Ok(table);
    }
    let table = WaiterTable::open(&self.os_name)?;
    // Another thread may have made one meanwhile: keep the first, drop ours.
    Ok(self.waiters.get_or_init(|| table))
  }

  /// While the word at `offset` equals `expected`, sleeps until a [`Segment::wake`] on it (from
  /// any process), the `deadline`, or `cancelled()` says so (asked every [`WAIT_SLICE`]).
  ///
  /// `WaitOnAddress` only works inside one process, so each waiter has an event of its own,
  /// registered in a table that every process of the block shares (see [`WaiterTable`]).
  ///
  /// [`WAIT_SLICE`]: super::WAIT_SLICE
  pub fn wait(
    &self,
    offset: usize,
    expected: u32,
    deadline: Option<Instant>,
    cancelled: &dyn Fn() -> bool,
  ) -> io::Result<WaitOutcome> {
    let word = self.word(offset);
    if let Some(outcome) = settled_before_sleep(word, expected, deadline) {
      return Ok(outcome);
    }
    let table = self.waiter_table()?;
    let waiter = match table.register(offset, || word.load(Ordering::SeqCst) == expected)? {
      Some(waiter) => waiter,
      // The value changed between the first look and the registration.
      None => return Ok(WaitOutcome::Ok),
    };
    loop {
      let Some(slice) = next_slice(deadline) else {
        return Ok(match table.unregister(&waiter)? {
          true => WaitOutcome::TimedOut,
          false => WaitOutcome::Ok, // a notify took us off the table meanwhile
        });
      };
      if cancelled() {
        if !table.unregister(&waiter)? {
          // A notify took this waiter, which no one waits for any more: hand the wake-up on.
          table.wake(offset, 1)?;
        }
        return Ok(WaitOutcome::Cancelled);
      }
      match waiter.sleep(slice)? {
        true if cancelled() => {
          table.wake(offset, 1)?;
          return Ok(WaitOutcome::Cancelled);
        }
        true => return Ok(WaitOutcome::Ok),
        // The value changed without a notify (or before one arrives): the wait is over, as a
        // futex wait on Unix ends at the next slice. Whether or not a notify took this waiter
        // off the table meanwhile, the answer is the same.
        false if word.load(Ordering::SeqCst) != expected => {
          table.unregister(&waiter)?;
          return Ok(WaitOutcome::Ok);
        }
        false => {}
      }
    }
  }

  /// Wakes up to `count` waiters (`u32::MAX`: all) on the word at `offset`, in every process;
  /// returns how many woke.
  pub fn wake(&self, offset: usize, count: u32) -> io::Result<usize> {
    self.word(offset);
    self.waiter_table()?.wake(offset, count)
  }

  /// An object being created is never seen empty on Windows: the section has its size from the
  /// start.
  pub fn being_created(&self) -> bool {
    false
  }

  /// Windows removes a name with the last handle to its object, and a dead process's handles are
  /// closed by the system: a name that exists is held by a live process, never stale.
  pub fn reclaim_if_stale(_os_name: &str) -> io::Result<bool> {
    Ok(false)
  }

  /// Lets go of the block as far as Windows allows while JS values may still reach the view: the
  /// name goes now (this closes the handle, and Windows removes a name when its last handle
  /// closes, even while views are mapped), but the view, and so the pages, stay mapped until the
  /// segment is dropped. Windows cannot swap private memory in under a mapped view in one step
  /// (an unmap and a new allocation at the same address leave a moment in which the addresses
  /// fault), so this is the safe equivalent of the Unix `release`. Idempotent.
  pub fn release(&self) -> io::Result<()> {
    // Locks that this process holds only through this segment are abandoned from now on.
    self.owners.release();
    self.close_handle();
    Ok(())
  }

  /// Closes the mapping's handle; returns whether it was still open.
  fn close_handle(&self) -> bool {
    let handle = self
      .handle
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .take();
    // Dropping the handle closes it.
    handle.is_some()
  }

  /// Lets go of the name (closes the handle, as [`Segment::release`] does), so that the name goes as soon as every other
  /// handle (other objects, other processes) is closed too. Windows cannot remove a name earlier
  /// (see [`unlink`]). Returns whether this segment still held the name.
  ///
  /// Without this, a host whose view Buffer V8 frees only later (after `close()`, the next turn
  /// of the event loop) would keep the name, and a block of the same name could not be created
  /// again right after `close()`.
  pub fn unlink_if_same(&self, _os_name: &str) -> io::Result<bool> {
    Ok(self.close_handle())
  }
}

/// The error of a failed `CreateFileMappingW`: when the system cannot commit that much memory for
/// a new block (pagefile or disk full), a lack of space as a full `/dev/shm` is on Linux, rather
/// than an address space too small for the view (which is how Rust reads `ERROR_NOT_ENOUGH_MEMORY`
/// and which only `MapViewOfFile` can report).
fn creation_error(error: io::Error) -> io::Error {
  let no_space = [
    ERROR_NOT_ENOUGH_MEMORY,
    ERROR_OUTOFMEMORY,
    ERROR_COMMITMENT_LIMIT,
    ERROR_DISK_FULL,
  ];
  match error.raw_os_error() {
    Some(code) if no_space.iter().any(|&c| c as i32 == code) => {
      io::Error::new(io::ErrorKind::StorageFull, error)
    }
    _ => error,
  }
}

fn desired_access(access: Access) -> u32 {
  match access {
    Access::ReadWrite => FILE_MAP_READ | FILE_MAP_WRITE,
    Access::ReadOnly => FILE_MAP_READ,
  }
}

impl Drop for Segment {
  fn drop(&mut self) {
    // SAFETY: `view` is the base address MapViewOfFile returned and `Drop` runs once; owners
    // guarantee that no JS or Rust value can reach the view afterwards. An error can only mean an
    // invalid address, which this is not.
    unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: self.view }) };
    // The handle, if not released yet, closes when its field is dropped, right after this.
  }
}

/// Windows removes a name when the last handle to the object closes, and offers no way to remove
/// it earlier: this only reports whether the name exists (`NotFound` if not). The name goes once
/// every process has closed the block.
pub fn unlink(os_name: &str) -> io::Result<()> {
  match exists(os_name)? {
    true => Ok(()),
    false => Err(io::Error::from_raw_os_error(ERROR_FILE_NOT_FOUND as i32)),
  }
}

/// Whether a mapping named `os_name` exists (also when we may not open it).
pub fn exists(os_name: &str) -> io::Result<bool> {
  let name = wide(os_name);
  // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
  // The call returns NULL or a new handle that nothing else owns and CloseHandle
  // closes: what `HandleOrNull::from_raw_handle` requires.
  let handle =
    unsafe { HandleOrNull::from_raw_handle(OpenFileMappingW(FILE_MAP_READ, 0, name.as_ptr())) };
  if OwnedHandle::try_from(handle).is_ok() {
    // Opened, and closed again as the handle is dropped here.
    return Ok(true);
  }
  // SAFETY: reads the calling thread's last-error value, set by the call just above (turning a
  // NULL into an error calls no Windows function).
  match unsafe { GetLastError() } {
    ERROR_FILE_NOT_FOUND => Ok(false),
    ERROR_ACCESS_DENIED => Ok(true),
    code => Err(io::Error::from_raw_os_error(code as i32)),
  }
}

/// Nothing to do at exit on Windows: the system closes a process's handles when it exits, however
/// it exits, and a name goes with the last handle.
pub fn at_exit(_f: extern "C" fn()) {}

/// Windows has no address-space limit to share: as many threads as the OS starts.
pub fn thread_budget(_running: usize, _stack: usize) -> bool {
  true
}

/// Windows has no `fork()`: always.
pub fn is_original_process() -> bool {
  true
}

/// The word a `waitAsync` thread sleeps on: the segment's own (a Windows segment keeps its view
/// until it is dropped, so the word stays shared while the thread waits).
pub use super::SegmentWord as WatchedWord;
