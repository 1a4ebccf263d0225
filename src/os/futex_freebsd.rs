//! FreeBSD: `_umtx_op` with `UMTX_OP_WAIT_UINT` / `UMTX_OP_WAKE`, the non-private operations that
//! reach waiters in other processes mapping the same object.

use std::ffi::c_void;
use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::FutexWait;

/// Sleeps while `*word == expected`, for at most `timeout`.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) -> io::Result<FutexWait> {
  let mut time = libc::_umtx_time {
    _timeout: libc::timespec {
      tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
      tv_nsec: timeout.subsec_nanos().into(),
    },
    _flags: 0,
    _clockid: libc::CLOCK_MONOTONIC as u32,
  };
  // SAFETY: `word` is a live, aligned 4-byte word of the shared mapping; `uaddr` carries the size
  // of the `_umtx_time` that `uaddr2` points at, as _umtx_op(2) specifies for a timeout.
  let result = unsafe {
    libc::_umtx_op(
      word.as_ptr().cast::<c_void>(),
      libc::UMTX_OP_WAIT_UINT,
      libc::c_ulong::from(expected),
      std::mem::size_of::<libc::_umtx_time>() as *mut c_void,
      (&mut time as *mut libc::_umtx_time).cast(),
    )
  };
  if result == 0 {
    // Woken, or the value differed: the caller tells them apart.
    return Ok(FutexWait::Woken);
  }
  let error = io::Error::last_os_error();
  match error.raw_os_error() {
    Some(libc::ETIMEDOUT) => Ok(FutexWait::TimedOut),
    Some(libc::EINTR) => Ok(FutexWait::Interrupted),
    _ => Err(error),
  }
}

/// Wakes up to `count` waiters on `word`. FreeBSD does not say how many woke: returns 0.
pub fn wake(word: &AtomicU32, count: u32) -> io::Result<usize> {
  // SAFETY: `word` is a live, aligned 4-byte word of the shared mapping.
  let result = unsafe {
    libc::_umtx_op(
      word.as_ptr().cast::<c_void>(),
      libc::UMTX_OP_WAKE,
      libc::c_ulong::from(count.min(i32::MAX as u32)),
      std::ptr::null_mut(),
      std::ptr::null_mut(),
    )
  };
  if result == 0 {
    Ok(0)
  } else {
    Err(io::Error::last_os_error())
  }
}
