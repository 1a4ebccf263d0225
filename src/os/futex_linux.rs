//! Linux: `futex(2)` on the shared mapping. No `FUTEX_PRIVATE_FLAG`: the kernel then keys waiters
//! by the underlying page, so a wake in one process reaches waiters in every process that maps it.

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::io::Errno;
use rustix::thread::futex;

use super::FutexWait;

/// Sleeps while `*word == expected`, for at most `timeout`.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) -> io::Result<FutexWait> {
  let timeout = rustix::fs::Timespec {
    tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
    tv_nsec: timeout.subsec_nanos().into(),
  };
  match futex::wait(word, futex::Flags::empty(), expected, Some(&timeout)) {
    Ok(()) => Ok(FutexWait::Woken),
    Err(Errno::AGAIN) => Ok(FutexWait::Changed),
    Err(Errno::TIMEDOUT) => Ok(FutexWait::TimedOut),
    Err(Errno::INTR) => Ok(FutexWait::Interrupted),
    Err(e) => Err(e.into()),
  }
}

/// Wakes up to `count` waiters on `word`; returns how many woke.
pub fn wake(word: &AtomicU32, count: u32) -> io::Result<usize> {
  // The kernel takes the count as a signed int.
  let count = count.min(i32::MAX as u32);
  Ok(futex::wake(word, futex::Flags::empty(), count)?)
}
