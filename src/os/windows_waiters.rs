//! The objects behind cross-process `wait`/`notify` on Windows, where `WaitOnAddress` only works
//! inside one process: a table of waiters per block, shared by name with every process that uses
//! the block (see [`WaiterTable`]).

use std::io;
use std::mem;
use std::os::windows::io::{AsRawHandle, HandleOrNull, OwnedHandle};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
  INVALID_HANDLE_VALUE, WAIT_ABANDONED, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Memory::{
  CreateFileMappingW, MapViewOfFile, UnmapViewOfFile, FILE_MAP_READ, FILE_MAP_WRITE,
  MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
};
use windows_sys::Win32::System::Threading::{
  CreateEventW, CreateMutexW, GetCurrentProcessId, OpenEventW, ReleaseMutex, SetEvent,
  WaitForSingleObject, EVENT_MODIFY_STATE, INFINITE,
};

use super::{last_error, owned, wide};

/// The objects behind cross-process `wait`/`notify` for one block, shared by name with every
/// process that uses the block: a table of waiters in a small named mapping, and a named mutex
/// that guards it. Each entry names a waiter's own auto-reset event; `wake` takes entries off the
/// table and sets their events, so it wakes exactly the waiters it counts. An entry left by a
/// killed process is dropped by the next `wake` on its offset (its event no longer opens).
#[derive(Debug)]
pub(super) struct WaiterTable {
  /// The names of the shared objects start with this (`Global\` prefix included).
  prefix: String,
  /// The table's mapping, never read again once mapped: held so that the table keeps its name
  /// (which other processes open) as long as this process uses it. Declared before `lock`, so
  /// that it closes before the mutex, the reverse of the order `open` makes them in.
  #[allow(
    dead_code,
    reason = "held for its name; it closes when the table is dropped"
  )]
  mapping: OwnedHandle,
  lock: OwnedHandle,
  entries: *mut Entry,
}

// SAFETY: the view belongs to the table alone and is unmapped only by its `Drop` (the handles are
// `OwnedHandle`s, `Send` and `Sync` by themselves); the entries are only touched with atomics
// while holding the named mutex.
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

/// A registered waiter: its entry and its event (closed when the waiter is dropped).
pub(super) struct Waiter {
  index: usize,
  serial: u32,
  event: OwnedHandle,
}

impl Waiter {
  /// Sleeps until this waiter's event is set (`true`) or `slice` passes (`false`).
  pub(super) fn sleep(&self, slice: Duration) -> io::Result<bool> {
    // Round up, so that a deadline is never missed by a fraction of a millisecond.
    let millis = u32::try_from(slice.as_micros().div_ceil(1000)).unwrap_or(INFINITE - 1);
    // SAFETY: `self.event` is an event handle this waiter owns, open as long as `self` lives.
    match unsafe { WaitForSingleObject(self.event.as_raw_handle(), millis) } {
      WAIT_OBJECT_0 => Ok(true),
      WAIT_TIMEOUT => Ok(false),
      _ => Err(last_error()),
    }
  }
}

impl WaiterTable {
  pub(super) fn open(os_name: &str) -> io::Result<WaiterTable> {
    // Short, fixed-length names derived from the block's, in the same namespace.
    let (namespace, plain) = match os_name.strip_prefix("Global\\") {
      Some(rest) => ("Global\\", rest),
      None => ("", os_name),
    };
    let prefix = format!("{namespace}shm-wait-{:016x}", fnv1a(plain.as_bytes()));
    let lock_name = wide(&format!("{prefix}-lock"));
    // SAFETY: `lock_name` is a NUL-terminated UTF-16 string that outlives the call.
    // The call returns NULL or a new handle that nothing else owns and CloseHandle
    // closes: what `HandleOrNull::from_raw_handle` requires.
    let lock = owned(unsafe {
      HandleOrNull::from_raw_handle(CreateMutexW(ptr::null(), 0, lock_name.as_ptr()))
    })?;
    let table_name = wide(&format!("{prefix}-table"));
    // SAFETY: as for the block itself; an existing table is opened (and then shared) instead.
    // The call returns NULL or a new handle that nothing else owns and CloseHandle
    // closes: what `HandleOrNull::from_raw_handle` requires.
    let mapping = owned(unsafe {
      HandleOrNull::from_raw_handle(CreateFileMappingW(
        INVALID_HANDLE_VALUE,
        ptr::null(),
        PAGE_READWRITE,
        0,
        TABLE_BYTES as u32,
        table_name.as_ptr(),
      ))
    })?;
    // SAFETY: `mapping` is a valid section of TABLE_BYTES bytes, open with read-write access.
    let view = unsafe {
      MapViewOfFile(
        mapping.as_raw_handle(),
        FILE_MAP_READ | FILE_MAP_WRITE,
        0,
        0,
        TABLE_BYTES,
      )
    };
    if view.Value.is_null() {
      return Err(last_error());
    }
    Ok(WaiterTable {
      prefix,
      mapping,
      lock,
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

  /// Runs `f` holding the table's mutex. Every holder keeps it for a few table operations only:
  /// one that holds it for seconds is stuck (or another program squats on the predictable name),
  /// and waiting for it forever would block the JS thread forever, so the wait is bounded.
  fn locked<T>(&self, f: impl FnOnce() -> T) -> io::Result<T> {
    const LOCK_TIMEOUT_MS: u32 = 5000;
    // SAFETY: `self.lock` is a mutex handle the table owns, open as long as `self` lives.
    match unsafe { WaitForSingleObject(self.lock.as_raw_handle(), LOCK_TIMEOUT_MS) } {
      // An abandoned mutex: its owner died holding it. Each entry is written in one piece, so the
      // table is still usable.
      WAIT_OBJECT_0 | WAIT_ABANDONED => {}
      WAIT_TIMEOUT => {
        return Err(io::Error::new(
          io::ErrorKind::TimedOut,
          "the block's waiter table has been locked by another process for 5 s",
        ))
      }
      _ => return Err(last_error()),
    }
    let result = f();
    // SAFETY: this thread owns the mutex, acquired just above through the same open handle.
    unsafe { ReleaseMutex(self.lock.as_raw_handle()) };
    Ok(result)
  }

  /// Adds a waiter on `offset` if `still_waiting()` holds under the lock (so that a notify that
  /// follows a change of the value cannot be missed); `None` if it no longer holds.
  pub(super) fn register(
    &self,
    offset: usize,
    still_waiting: impl FnOnce() -> bool,
  ) -> io::Result<Option<Waiter>> {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    // SAFETY: reads the id of the calling process.
    let process = unsafe { GetCurrentProcessId() };
    let name = self.event_name(process, serial);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call; an auto-reset
    // event, initially unset.
    // The call returns NULL or a new handle that nothing else owns and CloseHandle
    // closes: what `HandleOrNull::from_raw_handle` requires.
    let event = owned(unsafe {
      HandleOrNull::from_raw_handle(CreateEventW(ptr::null(), 0, 0, name.as_ptr()))
    })?;
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
  pub(super) fn unregister(&self, waiter: &Waiter) -> io::Result<bool> {
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

  /// Wakes up to `count` waiters (`u32::MAX`: all) on the word at `offset`, in every process;
  /// returns how many woke.
  pub(super) fn wake(&self, offset: usize, count: u32) -> io::Result<usize> {
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
        // The call returns NULL or a new handle that nothing else owns and CloseHandle
        // closes: what `HandleOrNull::from_raw_handle` requires.
        let event = unsafe {
          HandleOrNull::from_raw_handle(OpenEventW(EVENT_MODIFY_STATE, 0, name.as_ptr()))
        };
        let Ok(event) = OwnedHandle::try_from(event) else {
          // Its process is gone: the entry was stale, and is now removed.
          continue;
        };
        // SAFETY: `event` was just opened with EVENT_MODIFY_STATE and is open until it is dropped
        // at the end of this iteration.
        unsafe { SetEvent(event.as_raw_handle()) };
        woken += 1;
      }
      woken
    })
  }
}

impl Drop for WaiterTable {
  fn drop(&mut self) {
    // SAFETY: `entries` is the base of the view mapped in `open`, unmapped once here; no entry
    // reference outlives `&self`. The handles close when their fields are dropped, right after.
    unsafe {
      UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
        Value: self.entries.cast(),
      })
    };
  }
}

/// FNV-1a, 64 bits: a short, stable digest of a block name for the names of its wait objects.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
  bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
    (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
  })
}
