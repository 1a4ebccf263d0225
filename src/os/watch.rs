//! The wait policy: a waiter watches the word for a short while before it sleeps, because waking
//! a sleeping process costs tens of microseconds on a virtual machine (about a Unix socket round
//! trip), while a value that changes within the watch is seen at once. Every wait (`wait`, the
//! waiter threads of `waitAsync`, and `waitAsync` on the JS thread) follows the rules here.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::WaitOutcome;

/// How long a waiter that may block (`wait`, or a waiter thread) watches the word before it goes
/// to sleep: with a busy peer, most waits end here.
pub const SPIN: Duration = Duration::from_micros(50);

/// How long `waitAsync` watches the word on the JS thread before it hands the wait to a thread of
/// its own: a reply that comes this fast costs no thread hand-off and no event-loop wake-up, and
/// the event loop is held up no longer than by a small synchronous call.
pub const ASYNC_SPIN: Duration = Duration::from_micros(20);

/// How long one sleep lasts at most, so that a cancelled waiter notices within this time.
pub const WAIT_SLICE: Duration = Duration::from_millis(250);

/// Watches `word` until it differs from `expected` (returns `true`) or `spin` passes, or the
/// deadline (`false`).
fn spin_until_changed(
  word: &AtomicU32,
  expected: u32,
  spin: Duration,
  deadline: Option<Instant>,
) -> bool {
  let started = Instant::now();
  let limit = match deadline {
    Some(deadline) => deadline.min(started + spin),
    None => started + spin,
  };
  let mut spins = 0u32;
  loop {
    if word.load(Ordering::Acquire) != expected {
      return true;
    }
    spins = spins.wrapping_add(1);
    // Reading the clock costs more than a look at the word: only now and then.
    if spins.is_multiple_of(32) && Instant::now() >= limit {
      return false;
    }
    std::hint::spin_loop();
  }
}

/// The start every wait shares: `NotEqual` when the word differs at once, `Ok` when it changes
/// while watched for `spin`; `None` when it still holds `expected`.
fn watch(
  word: &AtomicU32,
  expected: u32,
  deadline: Option<Instant>,
  spin: Duration,
) -> Option<WaitOutcome> {
  if word.load(Ordering::SeqCst) != expected {
    return Some(WaitOutcome::NotEqual);
  }
  spin_until_changed(word, expected, spin, deadline).then_some(WaitOutcome::Ok)
}

/// The start of a wait that may block: its answer when the word differs or changes within
/// [`SPIN`]; `None` when the caller must go to sleep.
pub fn settled_before_sleep(
  word: &AtomicU32,
  expected: u32,
  deadline: Option<Instant>,
) -> Option<WaitOutcome> {
  watch(word, expected, deadline, SPIN)
}

/// How long the next sleep of a wait may last: a slice, or what is left before `deadline`;
/// `None` once the deadline has passed.
pub fn next_slice(deadline: Option<Instant>) -> Option<Duration> {
  match deadline {
    None => Some(WAIT_SLICE),
    Some(deadline) => deadline
      .checked_duration_since(Instant::now())
      .filter(|left| !left.is_zero())
      .map(|left| left.min(WAIT_SLICE)),
  }
}

/// The start of a `waitAsync` on the JS thread: its answer when it needs no thread (the word
/// differs, changes while watched for [`ASYNC_SPIN`], or the deadline has passed); `None` when a
/// waiter thread must sleep for it.
pub fn before_async_sleep(
  word: &AtomicU32,
  expected: u32,
  deadline: Option<Instant>,
) -> Option<WaitOutcome> {
  watch(word, expected, deadline, ASYNC_SPIN).or_else(|| {
    deadline
      .is_some_and(|deadline| deadline <= Instant::now())
      .then_some(WaitOutcome::TimedOut)
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::sync::Arc;

  #[test]
  fn a_change_while_watched_is_seen_without_sleeping() {
    for deadline in [None, Some(Instant::now() + Duration::from_secs(60))] {
      let word = Arc::new(AtomicU32::new(0));
      let writer = {
        let word = Arc::clone(&word);
        std::thread::spawn(move || {
          std::thread::sleep(Duration::from_millis(5));
          word.store(1, Ordering::Release);
        })
      };
      assert!(spin_until_changed(
        &word,
        0,
        Duration::from_secs(10),
        deadline
      ));
      writer.join().unwrap();
    }
  }

  #[test]
  fn the_watch_ends_at_the_deadline_when_it_comes_first() {
    let word = AtomicU32::new(0);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(20);
    assert!(!spin_until_changed(
      &word,
      0,
      Duration::from_secs(10),
      Some(deadline)
    ));
    assert!(Instant::now() >= deadline);
    assert!(started.elapsed() < Duration::from_secs(5));
  }
}
