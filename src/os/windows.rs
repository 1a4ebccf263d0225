//! Windows: pagefile-backed named file mappings (`CreateFileMappingW(INVALID_HANDLE_VALUE, ...)`),
//! through `windows-sys`. Unlike the `shared_memory` crate, no file under `%TEMP%` is involved,
//! so `Global\` names work and native programs see the same object.

use std::ffi::c_void;
use std::io;
use std::mem;
use std::ptr;

use windows_sys::Win32::Foundation::{
  CloseHandle, GetLastError, ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_COMMITMENT_LIMIT,
  ERROR_DISK_FULL, ERROR_FILE_NOT_FOUND, ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY, HANDLE,
  INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Memory::{
  CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualQuery,
  FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS,
  PAGE_READWRITE,
};

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use windows_sys::Win32::Foundation::{WAIT_ABANDONED, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Threading::{
  CreateEventW, CreateMutexW, GetCurrentProcessId, OpenEventW, ReleaseMutex, SetEvent,
  WaitForSingleObject, EVENT_MODIFY_STATE, INFINITE,
};

use super::{next_slice, settled_before_sleep, Access, WaitOutcome};

/// A view of a named file mapping, and the mapping's handle. A Windows name lives as long as any
/// handle to the object, so the handle is what keeps the name: it stays open until the block's
/// owner lets go of the name ([`Segment::unlink_if_same`]) or the segment is dropped. The view
/// does not need it: a mapped view keeps the memory itself.
#[derive(Debug)]
pub struct Segment {
  /// Null once closed.
  handle: AtomicPtr<c_void>,
  view: *mut c_void,
  len: usize,
  /// The OS name, for the objects `wait`/`notify` share with other processes.
  os_name: String,
  /// Those objects, made on the first `wait` or `notify`.
  waiters: OnceLock<WaiterTable>,
}

// SAFETY: the handle and the view belong to this `Segment` alone. The view is released only by
// its `Drop`; the handle is closed exactly once, by whichever of `unlink_if_same` and `Drop` swaps
// it out of its `AtomicPtr` first. Handles and views may be used and closed from any thread.
unsafe impl Send for Segment {}
// SAFETY: see `Send`: `&Segment` only gives out the address and length.
unsafe impl Sync for Segment {}

fn wide(os_name: &str) -> Vec<u16> {
  os_name.encode_utf16().chain(std::iter::once(0)).collect()
}

fn last_error() -> io::Error {
  io::Error::last_os_error()
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
    let handle = unsafe {
      CreateFileMappingW(
        INVALID_HANDLE_VALUE,
        ptr::null(),
        PAGE_READWRITE,
        (size >> 32) as u32,
        size as u32,
        name.as_ptr(),
      )
    };
    if handle.is_null() {
      return Err(creation_error(last_error()));
    }
    // SAFETY: reads the calling thread's last-error value, set by the call just above.
    if unsafe { GetLastError() } == ERROR_ALREADY_EXISTS {
      // CreateFileMappingW opened the existing object instead of creating one.
      close(handle);
      return Err(io::Error::from_raw_os_error(ERROR_ALREADY_EXISTS as i32));
    }
    Segment::map(handle, len, Access::ReadWrite, os_name)
  }

  /// Attaches to the existing mapping `os_name` and maps all of it. Its length is the view's
  /// region size, which Windows rounds up to whole pages.
  pub fn open(os_name: &str, access: Access) -> io::Result<Segment> {
    let name = wide(os_name);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
    let handle = unsafe { OpenFileMappingW(desired_access(access), 0, name.as_ptr()) };
    if handle.is_null() {
      return Err(last_error());
    }
    Segment::map(handle, 0, access, os_name)
  }

  /// Maps `len` bytes of `handle` (0: all of it); takes ownership of `handle`.
  fn map(handle: HANDLE, len: usize, access: Access, os_name: &str) -> io::Result<Segment> {
    // SAFETY: `handle` is a valid file-mapping handle opened with at least `access`; offset 0 and
    // a length within the section (or 0 for all of it) are valid arguments.
    let view: MEMORY_MAPPED_VIEW_ADDRESS =
      unsafe { MapViewOfFile(handle, desired_access(access), 0, 0, len) };
    if view.Value.is_null() {
      let err = last_error();
      close(handle);
      return Err(err);
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
        close(handle);
        return Err(err);
      }
      info.RegionSize
    } else {
      len
    };
    Ok(Segment {
      handle: AtomicPtr::new(handle),
      view: view.Value,
      len,
      os_name: os_name.to_owned(),
      waiters: OnceLock::new(),
    })
  }

  /// The first byte of the view.
  pub fn as_ptr(&self) -> *mut u8 {
    self.view.cast()
  }

  /// The mapped length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }

  /// The 32-bit word at `offset`.
  ///
  /// # Panics
  /// If `offset` is not a multiple of 4 inside the view: callers check first.
  fn word(&self, offset: usize) -> &AtomicU32 {
    assert!(
      offset.is_multiple_of(4) && offset + 4 <= self.len,
      "a word inside the view"
    );
    // SAFETY: the 4 bytes at `offset` are inside the view, which lives as long as `&self`, and
    // 4-aligned (views start on allocation-granularity boundaries). An `AtomicU32` has the layout
    // of a `u32`, and atomic access is how memory shared with other processes must be read.
    unsafe { &*self.as_ptr().add(offset).cast::<AtomicU32>() }
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
  /// any process), the `deadline`, or `cancel` is set (noticed within [`WAIT_SLICE`]).
  ///
  /// `WaitOnAddress` only works inside one process, so each waiter has an event of its own,
  /// registered in a table that every process of the block shares (see [`WaiterTable`]).
  pub fn wait(
    &self,
    offset: usize,
    expected: u32,
    deadline: Option<Instant>,
    cancel: &AtomicBool,
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
      if cancel.load(Ordering::Acquire) {
        if !table.unregister(&waiter)? {
          // A notify took this waiter, which no one waits for any more: hand the wake-up on.
          table.wake(offset, 1)?;
        }
        return Ok(WaitOutcome::Cancelled);
      }
      // Round up, so that a deadline is never missed by a fraction of a millisecond.
      let millis = u32::try_from(slice.as_micros().div_ceil(1000)).unwrap_or(INFINITE - 1);
      // SAFETY: `waiter.event` is an event handle this waiter owns until it is dropped.
      match unsafe { WaitForSingleObject(waiter.event, millis) } {
        WAIT_OBJECT_0 if cancel.load(Ordering::Acquire) => {
          table.wake(offset, 1)?;
          return Ok(WaitOutcome::Cancelled);
        }
        WAIT_OBJECT_0 => return Ok(WaitOutcome::Ok),
        // The value changed without a notify (or before one arrives): the wait is over, as a
        // futex wait on Unix ends at the next slice. Whether or not a notify took this waiter
        // off the table meanwhile, the answer is the same.
        WAIT_TIMEOUT if word.load(Ordering::SeqCst) != expected => {
          table.unregister(&waiter)?;
          return Ok(WaitOutcome::Ok);
        }
        WAIT_TIMEOUT => {}
        _ => return Err(last_error()),
      }
    }
  }

  /// Wakes up to `count` waiters (`u32::MAX`: all) on the word at `offset`, in every process;
  /// returns how many woke.
  pub fn wake(&self, offset: usize, count: u32) -> io::Result<usize> {
    self.word(offset);
    self.waiter_table()?.wake(offset, count)
  }

  /// Lets go of the name: closes this segment's handle to the mapping, so that the name goes as
  /// soon as every other handle (other objects, other processes) is closed too. Windows cannot
  /// remove a name earlier (see [`unlink`]). The view stays mapped and usable: a view keeps the
  /// memory itself. Returns whether this segment still held the name.
  ///
  /// Without this, a host whose view Buffer V8 frees only later (after `close()`, the next turn
  /// of the event loop) would keep the name, and a block of the same name could not be created
  /// again right after `close()`.
  pub fn unlink_if_same(&self, _os_name: &str) -> io::Result<bool> {
    let handle = self.handle.swap(ptr::null_mut(), Ordering::AcqRel);
    if handle.is_null() {
      return Ok(false);
    }
    close(handle);
    Ok(true)
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

fn close(handle: HANDLE) {
  // SAFETY: `handle` is a handle this module opened and closes exactly once. CloseHandle can only
  // fail for an invalid handle, which this is not; there is nothing useful to do with the error.
  unsafe { CloseHandle(handle) };
}

impl Drop for Segment {
  fn drop(&mut self) {
    // SAFETY: `view` is the base address MapViewOfFile returned and `Drop` runs once; owners
    // guarantee that no JS or Rust value can reach the view afterwards. An error can only mean an
    // invalid address, which this is not.
    unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: self.view }) };
    let handle = *self.handle.get_mut();
    if !handle.is_null() {
      close(handle);
    }
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
  let handle = unsafe { OpenFileMappingW(FILE_MAP_READ, 0, name.as_ptr()) };
  if !handle.is_null() {
    close(handle);
    return Ok(true);
  }
  // SAFETY: reads the calling thread's last-error value, set by the call just above.
  match unsafe { GetLastError() } {
    ERROR_FILE_NOT_FOUND => Ok(false),
    ERROR_ACCESS_DENIED => Ok(true),
    code => Err(io::Error::from_raw_os_error(code as i32)),
  }
}

/// The objects behind cross-process `wait`/`notify` for one block, shared by name with every
/// process that uses the block: a table of waiters in a small named mapping, and a named mutex
/// that guards it. Each entry names a waiter's own auto-reset event; `wake` takes entries off the
/// table and sets their events, so it wakes exactly the waiters it counts. An entry left by a
/// killed process is dropped by the next `wake` on its offset (its event no longer opens).
#[derive(Debug)]
struct WaiterTable {
  /// The names of the shared objects start with this (`Global\` prefix included).
  prefix: String,
  lock: HANDLE,
  mapping: HANDLE,
  entries: *mut Entry,
}

// SAFETY: the handles and the view belong to the table alone and are released by its `Drop`; the
// entries are only touched with atomics while holding the named mutex.
unsafe impl Send for WaiterTable {}
// SAFETY: see `Send`.
unsafe impl Sync for WaiterTable {}

/// One waiter: the key of its word (see [`key`]; a low half of 0 marks a free entry), and the
/// process and serial number that name its event.
#[repr(C)]
struct Entry {
  key: AtomicU32,
  process: AtomicU32,
  serial: AtomicU32,
  key_high: AtomicU32,
}

/// The table key of the word at `offset`: the low 32 bits of the offset plus 1 (never 0, which
/// marks a free entry: offsets are multiples of 4, so the sum cannot wrap), and the high 32 bits.
/// Both halves count: in a block over 4 GiB, words 4 GiB apart must not wake each other's
/// waiters.
fn key(offset: usize) -> (u32, u32) {
  let offset = offset as u64;
  (offset as u32 + 1, (offset >> 32) as u32)
}

const TABLE_BYTES: usize = 64 * 1024;
const ENTRIES: usize = TABLE_BYTES / mem::size_of::<Entry>();

/// A registered waiter: its entry and its event.
struct Waiter {
  index: usize,
  serial: u32,
  event: HANDLE,
}

impl Drop for Waiter {
  fn drop(&mut self) {
    close(self.event);
  }
}

impl WaiterTable {
  fn open(os_name: &str) -> io::Result<WaiterTable> {
    // Short, fixed-length names derived from the block's, in the same namespace.
    let (namespace, plain) = match os_name.strip_prefix("Global\\") {
      Some(rest) => ("Global\\", rest),
      None => ("", os_name),
    };
    let prefix = format!("{namespace}shm-wait-{:016x}", fnv1a(plain.as_bytes()));
    let lock_name = wide(&format!("{prefix}-lock"));
    // SAFETY: `lock_name` is a NUL-terminated UTF-16 string that outlives the call.
    let lock = unsafe { CreateMutexW(ptr::null(), 0, lock_name.as_ptr()) };
    if lock.is_null() {
      return Err(last_error());
    }
    let table_name = wide(&format!("{prefix}-table"));
    // SAFETY: as for the block itself; an existing table is opened (and then shared) instead.
    let mapping = unsafe {
      CreateFileMappingW(
        INVALID_HANDLE_VALUE,
        ptr::null(),
        PAGE_READWRITE,
        0,
        TABLE_BYTES as u32,
        table_name.as_ptr(),
      )
    };
    if mapping.is_null() {
      let err = last_error();
      close(lock);
      return Err(err);
    }
    // SAFETY: `mapping` is a valid section of TABLE_BYTES bytes.
    let view = unsafe { MapViewOfFile(mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, TABLE_BYTES) };
    if view.Value.is_null() {
      let err = last_error();
      close(mapping);
      close(lock);
      return Err(err);
    }
    Ok(WaiterTable {
      prefix,
      lock,
      mapping,
      entries: view.Value.cast(),
    })
  }

  fn entry(&self, index: usize) -> &Entry {
    assert!(index < ENTRIES);
    // SAFETY: the view holds ENTRIES entries, starts zeroed (a fresh section), lives as long as
    // `self`, and `Entry` is all atomics, valid for any bit pattern.
    unsafe { &*self.entries.add(index) }
  }

  fn event_name(&self, process: u32, serial: u32) -> Vec<u16> {
    wide(&format!("{}-{process}-{serial}", self.prefix))
  }

  /// Runs `f` holding the table's mutex.
  fn locked<T>(&self, f: impl FnOnce() -> T) -> io::Result<T> {
    // SAFETY: `self.lock` is a valid mutex handle.
    match unsafe { WaitForSingleObject(self.lock, INFINITE) } {
      // An abandoned mutex: its owner died holding it. Each entry is written in one piece, so the
      // table is still usable.
      WAIT_OBJECT_0 | WAIT_ABANDONED => {}
      _ => return Err(last_error()),
    }
    let result = f();
    // SAFETY: this thread owns the mutex, acquired just above.
    unsafe { ReleaseMutex(self.lock) };
    Ok(result)
  }

  /// Adds a waiter on `offset` if `still_waiting()` holds under the lock (so that a notify that
  /// follows a change of the value cannot be missed); `None` if it no longer holds.
  fn register(
    &self,
    offset: usize,
    still_waiting: impl FnOnce() -> bool,
  ) -> io::Result<Option<Waiter>> {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    // SAFETY: reads the id of the calling process.
    let process = unsafe { GetCurrentProcessId() };
    let name = self.event_name(process, serial);
    // SAFETY: `name` is a NUL-terminated UTF-16 string; an auto-reset event, initially unset.
    let event = unsafe { CreateEventW(ptr::null(), 0, 0, name.as_ptr()) };
    if event.is_null() {
      return Err(last_error());
    }
    let mut waiter = Waiter {
      index: usize::MAX,
      serial,
      event,
    };
    let (key, key_high) = key(offset);
    let registered = self.locked(|| {
      if !still_waiting() {
        return Ok(false);
      }
      let free = (0..ENTRIES).find(|&i| self.entry(i).key.load(Ordering::Relaxed) == 0);
      let Some(index) = free else {
        return Err(io::Error::other(
          "more than 4096 waiters on one shared memory block",
        ));
      };
      let entry = self.entry(index);
      entry.process.store(process, Ordering::Relaxed);
      entry.serial.store(serial, Ordering::Relaxed);
      entry.key_high.store(key_high, Ordering::Relaxed);
      entry.key.store(key, Ordering::Relaxed);
      waiter.index = index;
      Ok(true)
    })??;
    Ok(registered.then_some(waiter))
  }

  /// Takes the waiter off the table; `false` if a wake already did.
  fn unregister(&self, waiter: &Waiter) -> io::Result<bool> {
    // SAFETY: reads the id of the calling process.
    let process = unsafe { GetCurrentProcessId() };
    self.locked(|| {
      let entry = self.entry(waiter.index);
      let ours = entry.key.load(Ordering::Relaxed) != 0
        && entry.process.load(Ordering::Relaxed) == process
        && entry.serial.load(Ordering::Relaxed) == waiter.serial;
      if ours {
        entry.key.store(0, Ordering::Relaxed);
      }
      ours
    })
  }

  fn wake(&self, offset: usize, count: u32) -> io::Result<usize> {
    let (key, key_high) = key(offset);
    self.locked(|| {
      let mut woken = 0;
      for index in 0..ENTRIES {
        if woken >= count as usize {
          break;
        }
        let entry = self.entry(index);
        if entry.key.load(Ordering::Relaxed) != key
          || entry.key_high.load(Ordering::Relaxed) != key_high
        {
          continue;
        }
        entry.key.store(0, Ordering::Relaxed);
        let name = self.event_name(
          entry.process.load(Ordering::Relaxed),
          entry.serial.load(Ordering::Relaxed),
        );
        // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
        let event = unsafe { OpenEventW(EVENT_MODIFY_STATE, 0, name.as_ptr()) };
        if event.is_null() {
          // Its process is gone: the entry was stale, and is now removed.
          continue;
        }
        // SAFETY: `event` was just opened with EVENT_MODIFY_STATE.
        unsafe { SetEvent(event) };
        close(event);
        woken += 1;
      }
      woken
    })
  }
}

impl Drop for WaiterTable {
  fn drop(&mut self) {
    // SAFETY: `entries` is the base of the view mapped in `open`, unmapped once here.
    unsafe {
      UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
        Value: self.entries.cast(),
      })
    };
    close(self.mapping);
    close(self.lock);
  }
}

/// FNV-1a, 64 bits: a short, stable digest of a block name for the names of its wait objects.
fn fnv1a(bytes: &[u8]) -> u64 {
  bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
    (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
  })
}
