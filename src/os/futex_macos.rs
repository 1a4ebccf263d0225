//! macOS: `os_sync_wait_on_address` / `os_sync_wake_by_address_*` with the shared flag (macOS
//! 14.4 and later), looked up at run time so that the addon still loads on older versions, where
//! it falls back to the private but long-stable `__ulock_wait` / `__ulock_wake` with
//! `UL_COMPARE_AND_WAIT_SHARED` (the calls libc++'s `std::atomic::wait` makes).

use std::ffi::{c_int, c_void, CStr};
use std::io;
use std::sync::atomic::AtomicU32;
use std::sync::OnceLock;
use std::time::Duration;

use super::FutexWait;

const OS_SYNC_SHARED: u32 = 0x1; // OS_SYNC_WAIT_ON_ADDRESS_SHARED, OS_SYNC_WAKE_BY_ADDRESS_SHARED
const OS_CLOCK_MACH_ABSOLUTE_TIME: u32 = 32;
const UL_COMPARE_AND_WAIT_SHARED: u32 = 3;
const ULF_WAKE_ALL: u32 = 0x100;

type WaitWithTimeout = unsafe extern "C" fn(*mut c_void, u64, usize, u32, u32, u64) -> c_int;
type WakeByAddress = unsafe extern "C" fn(*mut c_void, usize, u32) -> c_int;

extern "C" {
  fn __ulock_wait(operation: u32, addr: *mut c_void, value: u64, timeout_us: u32) -> c_int;
  fn __ulock_wake(operation: u32, addr: *mut c_void, wake_value: u64) -> c_int;
}

struct OsSync {
  wait: WaitWithTimeout,
  wake_any: WakeByAddress,
  wake_all: WakeByAddress,
}

/// The `os_sync_*` functions, where this macOS has them.
fn os_sync() -> Option<&'static OsSync> {
  static FUNCTIONS: OnceLock<Option<OsSync>> = OnceLock::new();
  FUNCTIONS
    .get_or_init(|| {
      let find = |name: &CStr| {
        // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the loaded images.
        let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        (!symbol.is_null()).then_some(symbol)
      };
      let wait = find(c"os_sync_wait_on_address_with_timeout")?;
      let wake_any = find(c"os_sync_wake_by_address_any")?;
      let wake_all = find(c"os_sync_wake_by_address_all")?;
      // SAFETY: the symbols are the functions of these names declared in
      // <os/os_sync_wait_on_address.h>, whose C signatures the types above match.
      Some(unsafe {
        OsSync {
          wait: std::mem::transmute::<*mut c_void, WaitWithTimeout>(wait),
          wake_any: std::mem::transmute::<*mut c_void, WakeByAddress>(wake_any),
          wake_all: std::mem::transmute::<*mut c_void, WakeByAddress>(wake_all),
        }
      })
    })
    .as_ref()
}

/// Sleeps while `*word == expected`, for at most `timeout`.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) -> io::Result<FutexWait> {
  let addr = word.as_ptr().cast::<c_void>();
  let result = match os_sync() {
    // SAFETY: `addr` points at a live, aligned 4-byte word of the shared mapping.
    Some(f) => unsafe {
      (f.wait)(
        addr,
        u64::from(expected),
        4,
        OS_SYNC_SHARED,
        OS_CLOCK_MACH_ABSOLUTE_TIME,
        u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX).max(1),
      )
    },
    // SAFETY: as above; the timeout is in microseconds, 0 meaning none, so at least 1.
    None => unsafe {
      __ulock_wait(
        UL_COMPARE_AND_WAIT_SHARED,
        addr,
        u64::from(expected),
        u32::try_from(timeout.as_micros())
          .unwrap_or(u32::MAX)
          .max(1),
      )
    },
  };
  if result >= 0 {
    // Woken, or the value differed when the kernel looked: the caller tells them apart.
    return Ok(FutexWait::Woken);
  }
  let error = io::Error::last_os_error();
  match error.raw_os_error() {
    Some(libc::ETIMEDOUT) => Ok(FutexWait::TimedOut),
    Some(libc::EINTR) => Ok(FutexWait::Interrupted),
    _ => Err(error),
  }
}

/// Wakes up to `count` waiters on `word`; returns how many woke.
pub fn wake(word: &AtomicU32, count: u32) -> io::Result<usize> {
  let addr = word.as_ptr().cast::<c_void>();
  if count == u32::MAX {
    // SAFETY: `addr` points at a live, aligned 4-byte word of the shared mapping.
    let result = unsafe {
      match os_sync() {
        Some(f) => (f.wake_all)(addr, 4, OS_SYNC_SHARED),
        None => __ulock_wake(UL_COMPARE_AND_WAIT_SHARED | ULF_WAKE_ALL, addr, 0),
      }
    };
    // Neither call says how many woke: report at least that someone did.
    return woke(result).map(usize::from);
  }
  let mut woken = 0;
  for _ in 0..count {
    // SAFETY: as above.
    let result = unsafe {
      match os_sync() {
        Some(f) => (f.wake_any)(addr, 4, OS_SYNC_SHARED),
        None => __ulock_wake(UL_COMPARE_AND_WAIT_SHARED, addr, 0),
      }
    };
    if !woke(result)? {
      break;
    }
    woken += 1;
  }
  Ok(woken)
}

/// Whether a wake call woke a waiter (`ENOENT`: there was none).
fn woke(result: c_int) -> io::Result<bool> {
  if result >= 0 {
    return Ok(true);
  }
  let error = io::Error::last_os_error();
  match error.raw_os_error() {
    Some(libc::ENOENT) => Ok(false),
    _ => Err(error),
  }
}
