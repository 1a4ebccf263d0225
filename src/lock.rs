//! The cross-process lock of `lock`, `tryLock`, `lockAsync` and `unlock`: its word, and the slow
//! paths (`lib/shared-memory.js` takes and frees an uncontended lock itself, with one
//! compare-and-swap on the same word).
//!
//! A lock is 8 bytes of the block ([`LOCK_SIZE`]), one 64-bit word: 0 when free, else the lock
//! token of the thread that holds it (bits 0 to 61, never 0, never reused: `os::lock_token`)
//! plus [`WAITERS`] (bit 62) once someone sleeps waiting for it. Owner death is told by the OS
//! layer (`Segment::owner_alive`); a waiter looks again every [`PROBE_EVERY`]. The word of a
//! taken-over lock is changed only by a compare-and-swap from the exact value seen, and a dead
//! token never writes again, so two takers cannot both win. The format is written down in
//! docs/decisions.md ("Locks").

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::os::{Segment, WaitOutcome};

/// The bytes a lock takes; its offset must be a multiple of it.
pub const LOCK_SIZE: usize = 8;

/// Set while a thread sleeps waiting for the lock: its unlock must wake one.
pub const WAITERS: u64 = 1 << 62;

/// The owner's token.
pub const TOKEN: u64 = WAITERS - 1;

/// A token no thread ever gets: a free lock whose previous owner died holding it (a `lockAsync`
/// that took over a dead owner's lock and was aborted puts this back, so the next locker still
/// learns that the data may be half-written).
pub const ABANDONED: u64 = TOKEN;

/// How often a waiter asks whether the owner still lives: a dead owner's lock passes on within
/// this time.
pub const PROBE_EVERY: Duration = Duration::from_millis(50);

/// Where the upper 32 bits of the word are, which waiters sleep on (futexes are 32-bit; the
/// upper half holds [`WAITERS`], which an unlock clears).
const UPPER_HALF: usize = if cfg!(target_endian = "little") { 4 } else { 0 };

/// How a lock call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
  Acquired,
  /// Acquired, but the previous owner died holding it.
  OwnerDied,
  /// `tryLock`: another thread holds it (or this one does).
  Busy,
  TimedOut,
  /// `lock` on the thread that holds it: it could never succeed.
  Deadlock,
  /// The waiter was cancelled (abort, `close()`, a worker being terminated).
  Cancelled,
}

impl Outcome {
  /// What JS sees.
  pub fn name(self) -> &'static str {
    match self {
      Outcome::Acquired => "acquired",
      Outcome::OwnerDied => "owner-died",
      Outcome::Busy => "busy",
      Outcome::TimedOut | Outcome::Cancelled => "timed-out",
      Outcome::Deadlock => "deadlock",
    }
  }
}

/// What one look at the word found.
enum Attempt {
  /// Taken, by the caller.
  Taken(Outcome),
  /// Held by a live thread other than the caller; the word seen.
  Held(u64),
  /// Held by the caller itself; the word seen.
  Own(u64),
}

/// Takes the lock if it is free or its owner is dead. `contended`: the caller has slept waiting,
/// so others may too: it keeps [`WAITERS`] set, so that its unlock wakes the next.
fn attempt(segment: &Segment, offset: usize, me: u64, contended: bool) -> io::Result<Attempt> {
  let word = segment.lock_word(offset);
  let mut seen = word.load(Ordering::Acquire);
  loop {
    let owner = seen & TOKEN;
    let outcome = if owner == 0 {
      Outcome::Acquired
    } else if owner == me {
      return Ok(Attempt::Own(seen));
    } else if owner == ABANDONED || !owner_alive(segment, owner) {
      Outcome::OwnerDied
    } else {
      return Ok(Attempt::Held(seen));
    };
    let waiters = if contended { WAITERS } else { seen & WAITERS };
    match word.compare_exchange(seen, me | waiters, Ordering::Acquire, Ordering::Acquire) {
      Ok(_) => return Ok(Attempt::Taken(outcome)),
      Err(now) => seen = now,
    }
  }
}

/// Whether `owner` lives; where the OS cannot tell, it does (a lock is never taken from an owner
/// that may be alive).
fn owner_alive(segment: &Segment, owner: u64) -> bool {
  segment.owner_alive(owner).unwrap_or(true)
}

/// `tryLock`: takes the lock if it is free or its owner died; never sleeps.
pub fn try_lock(segment: &Segment, offset: usize, me: u64) -> io::Result<Outcome> {
  Ok(match attempt(segment, offset, me, false)? {
    Attempt::Taken(outcome) => outcome,
    Attempt::Held(_) | Attempt::Own(_) => Outcome::Busy,
  })
}

/// Whose call waits: the thread that holds the lock cannot wait for itself (`lock` on the owning
/// thread is a deadlock), but a `lockAsync` of that thread waits for its unlock like any other.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Caller {
  Blocking,
  Async,
}

/// `lock` and the waiter thread of `lockAsync`: takes the lock, sleeping while a live owner holds
/// it, until `deadline` or until `cancelled()` says so.
pub fn lock(
  segment: &Segment,
  offset: usize,
  me: u64,
  caller: Caller,
  deadline: Option<Instant>,
  cancelled: &dyn Fn() -> bool,
) -> io::Result<Outcome> {
  let word = segment.lock_word(offset);
  let mut contended = false;
  loop {
    let seen = match attempt(segment, offset, me, contended)? {
      Attempt::Taken(outcome) => return Ok(outcome),
      Attempt::Own(_) if caller == Caller::Blocking => return Ok(Outcome::Deadlock),
      Attempt::Held(seen) | Attempt::Own(seen) => seen,
    };
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
      return Ok(Outcome::TimedOut);
    }
    // Ask the owner to wake a waiter when it unlocks, then sleep until it does, the word
    // changes, or it is time to look whether the owner still lives.
    let flagged = seen | WAITERS;
    if seen != flagged
      && word
        .compare_exchange(seen, flagged, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
      continue;
    }
    contended = true;
    let probe_at = Instant::now() + PROBE_EVERY;
    let slice_end = deadline.map_or(probe_at, |deadline| deadline.min(probe_at));
    let upper = (flagged >> 32) as u32;
    // A wake-up that reaches a waiter being cancelled is handed on to another by the wait itself;
    // any other wake-up is followed by a look at the lock (a woken waiter never leaves without
    // trying it), so no unlock's wake-up is lost to a waiter that leaves.
    if segment.wait(offset + UPPER_HALF, upper, Some(slice_end), cancelled)?
      == WaitOutcome::Cancelled
    {
      return Ok(Outcome::Cancelled);
    }
  }
}

/// The lock is held by someone else (the word seen).
#[derive(Debug)]
pub struct NotOwner;

/// `unlock`: frees the lock that thread `me` holds, and wakes a waiter if one sleeps.
pub fn unlock(segment: &Segment, offset: usize, me: u64) -> io::Result<Result<(), NotOwner>> {
  free(segment, offset, me, 0)
}

/// Frees the lock that thread `me` took over from a dead owner, for a call that was aborted: the
/// next locker learns that the owner died, as it would have without the call.
pub fn abandon(segment: &Segment, offset: usize, me: u64) -> io::Result<Result<(), NotOwner>> {
  free(segment, offset, me, ABANDONED)
}

fn free(segment: &Segment, offset: usize, me: u64, to: u64) -> io::Result<Result<(), NotOwner>> {
  let word = segment.lock_word(offset);
  let mut seen = word.load(Ordering::Relaxed);
  loop {
    if seen & TOKEN != me {
      return Ok(Err(NotOwner));
    }
    match word.compare_exchange(seen, to, Ordering::Release, Ordering::Relaxed) {
      Ok(_) => break,
      Err(now) => seen = now,
    }
  }
  if seen & WAITERS != 0 {
    segment.wake(offset + UPPER_HALF, 1)?;
  }
  Ok(Ok(()))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
  use super::*;
  use crate::os::{self, Segment};
  use std::sync::Arc;

  /// A fresh block of 64 bytes, its name removed at once (the mapping stays).
  fn segment(tag: &str) -> Arc<Segment> {
    let name = format!("/shmtest-lock-{tag}-{}", std::process::id());
    let segment = Segment::create(&name, 64, 0o600).unwrap();
    os::unlink(&name).unwrap();
    Arc::new(segment)
  }

  /// This thread's token, marked alive in `segment`.
  fn me(segment: &Segment) -> u64 {
    let token = os::lock_token().unwrap();
    segment.mark_owner(token).unwrap();
    token
  }

  fn never() -> bool {
    false
  }

  /// A deadline far enough for any wait here to end: a planted bug fails the test, not hangs it.
  fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(10))
  }

  #[test]
  fn a_lock_excludes_and_is_not_recursive_and_only_its_owner_frees_it() {
    let segment = segment("basic");
    let me = me(&segment);
    assert_eq!(try_lock(&segment, 8, me).unwrap(), Outcome::Acquired);
    assert_eq!(segment.lock_word(8).load(Ordering::Relaxed), me);
    assert_eq!(try_lock(&segment, 8, me).unwrap(), Outcome::Busy);
    let deadlock = lock(&segment, 8, me, Caller::Blocking, soon(), &never).unwrap();
    assert_eq!(deadlock, Outcome::Deadlock);
    // Another live thread of this process cannot take it, nor free it.
    let other = {
      let segment = Arc::clone(&segment);
      std::thread::spawn(move || {
        let other = self::me(&segment);
        let soon = Some(Instant::now() + Duration::from_millis(120));
        let timed_out = lock(&segment, 8, other, Caller::Blocking, soon, &never).unwrap();
        (
          other,
          timed_out,
          unlock(&segment, 8, other).unwrap().is_err(),
        )
      })
      .join()
      .unwrap()
    };
    assert_eq!((other.1, other.2), (Outcome::TimedOut, true));
    // It left the waiters flag behind, so the unlock wakes (nobody) and clears the word.
    assert_eq!(segment.lock_word(8).load(Ordering::Relaxed), me | WAITERS);
    unlock(&segment, 8, me).unwrap().unwrap();
    assert_eq!(segment.lock_word(8).load(Ordering::Relaxed), 0);
    assert!(unlock(&segment, 8, me).unwrap().is_err(), "freed twice");
  }

  #[test]
  fn a_thread_that_ends_holding_the_lock_hands_over_owner_died() {
    let segment = segment("ended");
    let holder = {
      let segment = Arc::clone(&segment);
      std::thread::spawn(move || {
        let me = me(&segment);
        assert_eq!(try_lock(&segment, 0, me).unwrap(), Outcome::Acquired);
        me
      })
      .join()
      .unwrap()
    };
    let me = me(&segment);
    assert_ne!(me, holder, "tokens are never shared");
    assert_eq!(try_lock(&segment, 0, me).unwrap(), Outcome::OwnerDied);
    unlock(&segment, 0, me).unwrap().unwrap();
    assert_eq!(try_lock(&segment, 0, me).unwrap(), Outcome::Acquired);
  }

  #[test]
  fn a_blocked_waiter_gets_the_lock_at_the_unlock_and_learns_of_a_death_within_a_probe() {
    let segment = segment("handoff");
    let (to_holder, orders) = std::sync::mpsc::channel::<bool>();
    let (to_main, held) = std::sync::mpsc::channel();
    let holder = {
      let segment = Arc::clone(&segment);
      std::thread::spawn(move || {
        let me = me(&segment);
        for unlock_it in orders {
          assert_eq!(
            lock(&segment, 0, me, Caller::Blocking, soon(), &never).unwrap(),
            Outcome::Acquired
          );
          to_main.send(()).unwrap();
          if !unlock_it {
            return; // ends holding it
          }
          std::thread::sleep(Duration::from_millis(30));
          unlock(&segment, 0, me).unwrap().unwrap();
        }
      })
    };
    let me = me(&segment);
    to_holder.send(true).unwrap();
    held.recv().unwrap();
    let started = Instant::now();
    assert_eq!(
      lock(&segment, 0, me, Caller::Blocking, soon(), &never).unwrap(),
      Outcome::Acquired
    );
    assert!(
      started.elapsed() < PROBE_EVERY * 20,
      "{:?}",
      started.elapsed()
    );
    unlock(&segment, 0, me).unwrap().unwrap();
    to_holder.send(false).unwrap();
    held.recv().unwrap();
    holder.join().unwrap();
    let started = Instant::now();
    let taken = lock(&segment, 0, me, Caller::Async, soon(), &never).unwrap();
    assert_eq!(taken, Outcome::OwnerDied);
    assert!(
      started.elapsed() < PROBE_EVERY * 20,
      "{:?}",
      started.elapsed()
    );
  }

  #[test]
  fn a_word_no_live_thread_marked_is_a_dead_owner_and_abandon_keeps_it_so() {
    let segment = segment("unmarked");
    let me = me(&segment);
    // A token no thread has marked here (written by hand), then the abandoned mark.
    segment.lock_word(0).store(12345, Ordering::Relaxed);
    assert_eq!(try_lock(&segment, 0, me).unwrap(), Outcome::OwnerDied);
    abandon(&segment, 0, me).unwrap().unwrap();
    assert_eq!(segment.lock_word(0).load(Ordering::Relaxed), ABANDONED);
    assert_eq!(try_lock(&segment, 0, me).unwrap(), Outcome::OwnerDied);
    assert!(abandon(&segment, 8, me).unwrap().is_err(), "not held");
    // A cancelled waiter leaves at its next look.
    segment.lock_word(8).store(me, Ordering::Relaxed);
    let cancelled = || true;
    assert_eq!(
      lock(&segment, 8, me, Caller::Async, None, &cancelled).unwrap(),
      Outcome::Cancelled
    );
  }
}
