//! The OS layer: one named shared-memory segment mapped into this process.
//!
//! [`Segment`] is the only type that talks to the OS. POSIX shared memory (`shm_open` + `mmap`)
//! lives in `unix.rs`, pagefile-backed named file mappings in `windows.rs`; everything above this
//! module is free of `cfg`. Errors are plain [`std::io::Error`]s, mapped to JS errors in one place
//! (`crate::error`).

#[cfg_attr(unix, path = "unix.rs")]
#[cfg_attr(windows, path = "windows.rs")]
#[cfg_attr(not(any(unix, windows)), path = "unsupported.rs")]
mod imp;

pub use imp::{exists, unlink, Segment};

/// The futex of each Unix system, behind one `wait`/`wake` pair (used by `unix.rs`).
#[cfg(unix)]
#[cfg_attr(
  any(target_os = "linux", target_os = "android"),
  path = "futex_linux.rs"
)]
#[cfg_attr(target_os = "macos", path = "futex_macos.rs")]
#[cfg_attr(target_os = "freebsd", path = "futex_freebsd.rs")]
#[cfg_attr(
  not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "freebsd"
  )),
  path = "futex_unsupported.rs"
)]
mod futex;

/// What one futex sleep ended with.
#[cfg(unix)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FutexWait {
  /// A wake-up (or, where the OS cannot tell, a value that differed when the kernel looked).
  Woken,
  /// The value differed when the kernel looked.
  #[cfg_attr(
    not(target_os = "linux"),
    allow(dead_code, reason = "only Linux tells a changed value from a wake-up")
  )]
  Changed,
  TimedOut,
  /// A signal interrupted the sleep.
  Interrupted,
}

/// How a [`Segment::wait`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
  /// Woken by a notify, or the value changed while waiting.
  Ok,
  /// The value differed from the expected one at the start.
  NotEqual,
  TimedOut,
  /// The waiter's cancel flag was set.
  Cancelled,
}

/// How long a waiter watches the word before it goes to sleep. Waking a sleeping process costs
/// tens of microseconds on a virtual machine (about what a Unix socket round trip costs), while a
/// value that changes within this time is seen at once: with a busy peer, most waits end here.
pub const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Watches `word` until it differs from `expected` (returns `true`) or `spin` passes, or the
/// deadline (`false`).
pub fn spin_until_changed(
  word: &std::sync::atomic::AtomicU32,
  expected: u32,
  spin: std::time::Duration,
  deadline: Option<std::time::Instant>,
) -> bool {
  let started = std::time::Instant::now();
  let limit = match deadline {
    Some(deadline) => deadline.min(started + spin),
    None => started + spin,
  };
  let mut spins = 0u32;
  loop {
    if word.load(std::sync::atomic::Ordering::Acquire) != expected {
      return true;
    }
    spins = spins.wrapping_add(1);
    // Reading the clock costs more than a look at the word: only now and then.
    if spins.is_multiple_of(32) && std::time::Instant::now() >= limit {
      return false;
    }
    std::hint::spin_loop();
  }
}

/// The start every wait shares: `NotEqual` when the word differs at once, `Ok` when it changes
/// while watched for [`SPIN`]; `None` when the caller must go to sleep.
pub fn settled_before_sleep(
  word: &std::sync::atomic::AtomicU32,
  expected: u32,
  deadline: Option<std::time::Instant>,
) -> Option<WaitOutcome> {
  if word.load(std::sync::atomic::Ordering::SeqCst) != expected {
    return Some(WaitOutcome::NotEqual);
  }
  spin_until_changed(word, expected, SPIN, deadline).then_some(WaitOutcome::Ok)
}

/// How long the next sleep of a wait may last: a slice, or what is left before `deadline`;
/// `None` once the deadline has passed.
pub fn next_slice(deadline: Option<std::time::Instant>) -> Option<std::time::Duration> {
  match deadline {
    None => Some(WAIT_SLICE),
    Some(deadline) => deadline
      .checked_duration_since(std::time::Instant::now())
      .filter(|left| !left.is_zero())
      .map(|left| left.min(WAIT_SLICE)),
  }
}

/// How long one sleep lasts at most, so that a cancelled waiter notices within this time.
pub const WAIT_SLICE: std::time::Duration = std::time::Duration::from_millis(250);

/// How a segment is mapped into this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
  ReadWrite,
  #[allow(dead_code, reason = "the readOnly option comes next")]
  ReadOnly,
}

// A `Segment` only holds the address and length of a shared mapping (and, on Windows, the
// mapping's handle). Every process that maps the block may change its bytes at any time, so the
// memory is never handed out as a Rust reference that assumes otherwise; moving the owner to, or
// using it from, another thread is therefore as safe as using it here. Asserted at compile time so
// that a new field that is not thread-safe cannot slip in unnoticed.
const _: () = {
  const fn assert_send_sync<T: Send + Sync>() {}
  assert_send_sync::<Segment>();
};
