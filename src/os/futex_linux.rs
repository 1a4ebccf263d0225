//! Linux: `futex(2)` on the shared mapping. No `FUTEX_PRIVATE_FLAG`: the kernel then keys waiters
//! by the underlying page, so a wake in one process reaches waiters in every process that maps it.

use std::io;
use std::sync::atomic::AtomicU32;
use std::sync::OnceLock;
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

/// Sleeps as [`wait`] does, and also ends when `interrupt`, a word private to this process that
/// was 0, is set and woken by [`wake_private`]: then it answers `Interrupted` (or `Changed`, when
/// it was set before the sleep began). It answers `Woken` whenever a wake of `word` reached the
/// sleeper, also when an interrupt came too: an interrupted sleeper stays queued on `word` until
/// its thread runs again, so a notify may still pick it, and that wake-up must not be lost.
/// `None` where the kernel has no `futex_waitv` (Linux before 5.16, or a seccomp profile that
/// refuses it): the caller sleeps with [`wait`].
pub fn wait_either(
  word: &AtomicU32,
  expected: u32,
  interrupt: &AtomicU32,
  timeout: Duration,
) -> Option<io::Result<FutexWait>> {
  if !has_waitv() {
    return None;
  }
  // `futex_waitv` takes an absolute time on the clock it is given.
  let now = rustix::time::clock_gettime(futex::ClockId::Monotonic);
  let end = Duration::new(
    now.tv_sec.try_into().unwrap_or(0),
    now.tv_nsec.try_into().unwrap_or(0),
  )
  .saturating_add(timeout);
  let deadline = rustix::fs::Timespec {
    tv_sec: end.as_secs().try_into().unwrap_or(i64::MAX),
    tv_nsec: end.subsec_nanos().into(),
  };
  let mut shared = futex::Wait::new();
  shared.val = expected.into();
  shared.uaddr = futex::WaitPtr::new(word.as_ptr().cast());
  // Not private: keyed by the page, like every other wait and wake of a block's word.
  shared.flags = futex::WaitFlags::SIZE_U32;
  let mut own = futex::Wait::new();
  own.uaddr = futex::WaitPtr::new(interrupt.as_ptr().cast());
  own.flags = futex::WaitFlags::SIZE_U32 | futex::WaitFlags::PRIVATE;
  // The kernel answers with the index of the *last* entry in the array that a wake reached: with
  // the interrupt first, 1 means the block's word was woken, whether or not an interrupt came too.
  let slept = futex::waitv(
    &[own, shared],
    futex::WaitvFlags::empty(),
    Some(&deadline),
    futex::ClockId::Monotonic,
  );
  Some(match slept {
    Ok(0) => Ok(FutexWait::Interrupted),
    Ok(_) => Ok(FutexWait::Woken),
    // One of the two words differed when the kernel looked: the block's word changed, or the
    // interrupt was set before the sleep began. Either is `Changed`: an interrupt comes only
    // once the wait is settled (see `AsyncWait::cancel`), so its waiter's answer goes nowhere.
    Err(Errno::AGAIN) => Ok(FutexWait::Changed),
    Err(Errno::TIMEDOUT) => Ok(FutexWait::TimedOut),
    Err(Errno::INTR) => Ok(FutexWait::Interrupted),
    Err(e) => Err(e.into()),
  })
}

/// Wakes every sleeper of `word`, a word private to this process (see [`wait_either`]).
pub fn wake_private(word: &AtomicU32) {
  // Nothing to do if it fails: the sleeper then ends at the end of its slice, as it would
  // without `futex_waitv`.
  let _ = futex::wake(word, futex::Flags::PRIVATE, i32::MAX as u32);
}

/// Whether this kernel lets a process wait on two words at once (`futex_waitv`), asked once: a
/// wait on a private word that does not hold the value given answers at once, `EAGAIN` if the
/// call exists.
pub fn has_waitv() -> bool {
  static HAS_WAITV: OnceLock<bool> = OnceLock::new();
  *HAS_WAITV.get_or_init(|| {
    let probe = AtomicU32::new(1);
    let mut wait = futex::Wait::new();
    wait.uaddr = futex::WaitPtr::new(probe.as_ptr().cast());
    wait.flags = futex::WaitFlags::SIZE_U32 | futex::WaitFlags::PRIVATE;
    let timeout = rustix::fs::Timespec {
      tv_sec: 0,
      tv_nsec: 0,
    };
    futex::waitv(
      &[wait],
      futex::WaitvFlags::empty(),
      Some(&timeout),
      futex::ClockId::Monotonic,
    ) == Err(Errno::AGAIN)
  })
}
