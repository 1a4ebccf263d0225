//! `wait`, `notify` and `waitAsync`: their argument rules, and the threads that sleep for
//! `waitAsync` so that neither the event loop nor libuv's thread pool does.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

use crate::error::{ShmError, ShmResult};
use crate::js;
use crate::lock::{self, Caller, Outcome};
use crate::os::{self, Segment, WaitOutcome, WaitRing, WatchedWord};
use crate::rules::to_int32;

/// `expected`, coerced like `Atomics.wait` does (`ToNumber`, then `ToInt32`), as the bits of the
/// word.
pub fn expected(value: &Unknown) -> ShmResult<u32> {
  let number = value.coerce_to_number()?;
  Ok(to_int32(number.get_double()?) as u32)
}

/// The deadline of `timeoutMs`: `undefined`, `Infinity` and `NaN` wait forever (as in
/// `Atomics.wait`); negative values do not wait.
pub fn deadline(value: &Unknown) -> ShmResult<Option<Instant>> {
  if value.get_type()? == ValueType::Undefined {
    return Ok(None);
  }
  Ok(deadline_after(
    js::number(value, "timeoutMs")?,
    Instant::now(),
  ))
}

/// Timeouts from this many milliseconds on (about 31,700 years) wait forever. Without a bound,
/// where "forever" begins would depend on the OS's `Instant` (Linux's overflows near 10^19 ms
/// after boot, Windows' much later).
const FOREVER_MS: f64 = 1e15;

/// The deadline `millis` after `now`; `None` (wait forever) for `NaN`, `Infinity`, and any
/// timeout of [`FOREVER_MS`] or more.
fn deadline_after(millis: f64, now: Instant) -> Option<Instant> {
  if millis.is_nan() || millis >= FOREVER_MS {
    return None;
  }
  let timeout = Duration::try_from_secs_f64(millis.max(0.0) / 1000.0).ok()?;
  now.checked_add(timeout)
}

/// `count` of `notify`: a non-negative integer or `Infinity` (the default), as `u32::MAX` for all.
pub fn count(value: &Unknown) -> ShmResult<u32> {
  if value.get_type()? == ValueType::Undefined {
    return Ok(u32::MAX);
  }
  let count = js::number(value, "count")?;
  if count == f64::INFINITY {
    return Ok(u32::MAX);
  }
  if !(count >= 0.0 && count.fract() == 0.0) {
    return Err(ShmError::OutOfRange(format!(
      "count must be a non-negative integer or Infinity, got {}",
      js::display_number(count)
    )));
  }
  Ok(count.min(f64::from(u32::MAX)) as u32)
}

/// What JS sees of a finished wait.
pub fn outcome_name(outcome: WaitOutcome) -> &'static str {
  match outcome {
    WaitOutcome::Ok | WaitOutcome::Cancelled => "ok",
    WaitOutcome::NotEqual => "not-equal",
    WaitOutcome::TimedOut => "timed-out",
  }
}

/// What a `waitAsync` that went to a waiter thread answers. The call saw the word equal to
/// `expected` before it handed the wait over (`os::before_async_sleep`), so a word that differs
/// when the thread looks has changed since, as it does before a notify: that is `'ok'`, as for
/// `Atomics.waitAsync`, never `'not-equal'`.
fn settled_later(outcome: WaitOutcome) -> WaitOutcome {
  match outcome {
    WaitOutcome::NotEqual => WaitOutcome::Ok,
    other => other,
  }
}

/// The error code carried to JS by a failed `waitAsync`.
pub struct Code(String);

impl AsRef<str> for Code {
  fn as_ref(&self) -> &str {
    &self.0
  }
}

impl From<Status> for Code {
  fn from(status: Status) -> Code {
    Code(status.as_ref().to_owned())
  }
}

impl From<ShmError> for napi::Error<Code> {
  fn from(error: ShmError) -> napi::Error<Code> {
    napi::Error::new(Code(error.code().to_owned()), error.to_string())
  }
}

/// The JS callback that settles a `waitAsync` promise: `(error, result)`.
pub type Settle = ThreadsafeFunction<String, (), String, Code, true>;

/// `settle` (a function from `lib/`) as a callback that a waiter thread can call.
pub fn settle_callback(settle: &Unknown) -> ShmResult<Settle> {
  if settle.get_type()? != ValueType::Function {
    return Err(js::wrong_type("settle", "a function", settle));
  }
  // SAFETY: `settle` is a live function value of the current call, in its environment.
  Ok(unsafe { Settle::from_napi_value(settle.value().env, settle.raw()) }?)
}

/// One `waitAsync` in flight, shared by the object that started it and the thread that waits.
pub struct AsyncWait {
  cancel: AtomicBool,
  /// Set once a cancel has settled the promise: the word whose wake ends a waiter thread's sleep
  /// at once (`os::interrupt`), so that `close()` need not wait a slice for the thread to let go.
  interrupt: AtomicU32,
  /// Taken by whoever settles first: the waiting thread or the ring, `close()`, or an abort.
  settle: Mutex<Option<Settle>>,
  /// The wait's id in the [`WaitRing`], once it is there (0 before, and for waits on threads).
  ring_id: AtomicU64,
}

impl AsyncWait {
  fn new(settle: Settle) -> Arc<AsyncWait> {
    Arc::new(AsyncWait {
      cancel: AtomicBool::new(false),
      interrupt: AtomicU32::new(0),
      settle: Mutex::new(Some(settle)),
      ring_id: AtomicU64::new(0),
    })
  }

  /// Settles the promise, unless something else did already; returns whether the result is on
  /// its way to JS.
  fn settle(&self, result: std::result::Result<String, ShmError>) -> bool {
    let settle = self.settle.lock().unwrap_or_else(|e| e.into_inner()).take();
    match settle {
      // A closing environment (a worker that exits) refuses the call: nobody is left to tell.
      Some(settle) => {
        settle.call(
          result.map_err(napi::Error::from),
          ThreadsafeFunctionCallMode::NonBlocking,
        ) == Status::Ok
      }
      None => false,
    }
  }

  /// Stops the wait: the ring lets go of the block at once, a waiter thread within a wait slice;
  /// the promise is settled with `error`, or left to the caller with `None` (an abort, settled in
  /// JS).
  fn cancel(&self, error: Option<ShmError>) {
    self.cancel.store(true, Ordering::SeqCst);
    match error {
      Some(error) => drop(self.settle(Err(error))),
      // Dropping the callback lets the event loop go.
      None => drop(self.settle.lock().unwrap_or_else(|e| e.into_inner()).take()),
    }
    // Only now that the promise is settled: a thread woken earlier could settle it first, with
    // what its wait ended as.
    os::interrupt(&self.interrupt);
    self.cancel_in_ring();
  }

  /// Cancels the wait in the ring, if it is there. Called by [`AsyncWait::cancel`] and by the
  /// start of a ring wait (once its id is stored): whichever of the two comes second sees the
  /// other's write (both are `SeqCst`), so a wait cancelled while it starts is cancelled.
  fn cancel_in_ring(&self) {
    let id = self.ring_id.load(Ordering::SeqCst);
    if id != 0 && self.cancel.load(Ordering::SeqCst) {
      if let Some(ring) = WaitRing::get() {
        ring.cancel(id);
      }
    }
  }
}

/// The `waitAsync` calls in flight of one block, by id, to cancel on abort or `close()`.
pub type PendingWaits = Tracked<AsyncWait>;

/// Things in flight by id, held weakly: each is dropped by its owner when it finishes, and
/// forgotten here after that. (Generic so that its unit test needs no JS callback.)
pub struct Tracked<T> {
  items: HashMap<u32, Weak<T>>,
  next: u32,
}

impl<T> Default for Tracked<T> {
  fn default() -> Self {
    Tracked {
      items: HashMap::new(),
      next: 0,
    }
  }
}

impl<T> Tracked<T> {
  /// Registers `item`; returns its id.
  fn track(&mut self, item: &Arc<T>) -> u32 {
    let id = self.next;
    self.next = self.next.wrapping_add(1);
    if self.items.len() >= 64 && self.items.len().is_power_of_two() {
      // Forget finished ones now and then, so the map stays as small as what is in flight.
      self.items.retain(|_, item| item.strong_count() > 0);
    }
    self.items.insert(id, Arc::downgrade(item));
    id
  }

  /// Removes `id`; returns it if it is still in flight.
  fn take(&mut self, id: u32) -> Option<Arc<T>> {
    self.items.remove(&id).and_then(|item| item.upgrade())
  }

  /// Removes every item; returns those still in flight.
  fn take_all(&mut self) -> Vec<Arc<T>> {
    self
      .items
      .drain()
      .filter_map(|(_, item)| item.upgrade())
      .collect()
  }
}

impl Tracked<AsyncWait> {
  /// Registers the wait of `job` (a wait is dropped with its job, once its thread settled it);
  /// returns its id.
  pub fn add(&mut self, job: &Job) -> u32 {
    self.track(&job.wait)
  }

  /// Stops the wait `id` (its signal was aborted); its promise is settled in JS.
  pub fn cancel(&mut self, id: u32) {
    if let Some(wait) = self.take(id) {
      wait.cancel(None);
    }
  }

  /// Stops every wait; with the block's `name`, their promises reject with `ERR_SHM_CLOSED`.
  pub fn cancel_all(&mut self, closed: Option<&str>) {
    for wait in self.take_all() {
      wait.cancel(closed.map(|name| ShmError::Closed {
        name: name.to_owned(),
      }));
    }
  }
}

/// A wait for a waiter thread to do: a `waitAsync`, or a `lockAsync`.
pub struct Job {
  work: Work,
  name: String,
  deadline: Option<Instant>,
  wait: Arc<AsyncWait>,
}

enum Work {
  /// Sleep while the word holds `expected`.
  Wait { word: WatchedWord, expected: u32 },
  /// Take the lock at `offset` for the thread whose token is `token` (the JS thread that called
  /// `lockAsync`, which owns the lock once taken).
  Lock {
    segment: Arc<Segment>,
    offset: usize,
    token: u64,
  },
}

impl Job {
  pub fn new(
    segment: Arc<Segment>,
    name: &str,
    offset: usize,
    expected: u32,
    deadline: Option<Instant>,
    settle: Settle,
  ) -> Job {
    Job {
      work: Work::Wait {
        word: WatchedWord::new(segment, offset),
        expected,
      },
      name: name.to_owned(),
      deadline,
      wait: AsyncWait::new(settle),
    }
  }

  /// A `lockAsync` of the lock at `offset` for the thread with lock token `token`.
  pub fn lock(
    segment: Arc<Segment>,
    name: &str,
    offset: usize,
    token: u64,
    deadline: Option<Instant>,
    settle: Settle,
  ) -> Job {
    Job {
      work: Work::Lock {
        segment,
        offset,
        token,
      },
      name: name.to_owned(),
      deadline,
      wait: AsyncWait::new(settle),
    }
  }

  /// Arms a `waitAsync` in `ring`; a `lockAsync` comes back (it needs a thread: it checks its
  /// owner's life between sleeps).
  fn into_ring(self, ring: &WaitRing) -> std::result::Result<(), Job> {
    let Job {
      work,
      name,
      deadline,
      wait,
    } = self;
    let (word, expected) = match work {
      Work::Wait { word, expected } => (word, expected),
      work @ Work::Lock { .. } => {
        return Err(Job {
          work,
          name,
          deadline,
          wait,
        })
      }
    };
    let waiting = Arc::clone(&wait);
    let tag = name.clone();
    let done = Box::new(move |outcome: std::io::Result<WaitOutcome>| {
      let result = outcome
        .map(|outcome| outcome_name(settled_later(outcome)).to_owned())
        .map_err(|e| ShmError::from_os(&name, e));
      waiting.settle(result)
    });
    let id = ring.wait(word, expected, deadline, &tag, done);
    wait.ring_id.store(id, Ordering::SeqCst);
    wait.cancel_in_ring();
    Ok(())
  }

  fn run(self) {
    let cancelled = || self.wait.cancel.load(Ordering::Acquire);
    let os_error = |e| ShmError::from_os(&self.name, e);
    match &self.work {
      Work::Wait { word, expected } => {
        let outcome = word.wait(*expected, self.deadline, &cancelled, &self.wait.interrupt);
        // A cancelled wait is settled by its canceller (`close()`, or JS for an abort), never
        // here: the cancel flag is set before the canceller settles, and a thread that saw it
        // in between would settle first, with "ok".
        if matches!(outcome, Ok(WaitOutcome::Cancelled)) {
          return;
        }
        let result = outcome
          .map(|outcome| outcome_name(settled_later(outcome)).to_owned())
          .map_err(os_error);
        self.wait.settle(result);
      }
      Work::Lock {
        segment,
        offset,
        token,
      } => {
        let taken = lock::lock(
          segment,
          *offset,
          *token,
          Caller::Async,
          self.deadline,
          &cancelled,
        );
        match taken {
          Ok(outcome @ (Outcome::Acquired | Outcome::OwnerDied)) => {
            if !self.wait.settle(Ok(outcome.name().to_owned())) {
              // Aborted or closed meanwhile, or its thread is gone: nobody will unlock it.
              let _ = match outcome {
                Outcome::OwnerDied => lock::abandon(segment, *offset, *token),
                _ => lock::unlock(segment, *offset, *token),
              };
            }
          }
          // Settled by its canceller, as a cancelled wait is (above).
          Ok(Outcome::Cancelled) => {}
          Ok(outcome) => drop(self.wait.settle(Ok(outcome.name().to_owned()))),
          Err(e) => drop(self.wait.settle(Err(os_error(e)))),
        }
      }
    }
  }
}

/// Threads that sleep for `waitAsync`, one per pending wait (a futex sleep cannot be shared), kept
/// for a while after their wait so that the next one starts without spawning.
struct WaiterThreads {
  state: Mutex<Queue>,
  work: Condvar,
}

struct Queue {
  jobs: VecDeque<Job>,
  /// Threads waiting for a job.
  idle: usize,
  /// Threads alive, idle or not.
  running: usize,
}

/// How long an idle waiter thread waits for another job before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// The stack of a waiter thread: it runs one wait loop and a callback hand-off, a few KiB deep.
const WAITER_STACK: usize = 64 * 1024;

/// Starts `job`: a `waitAsync` in the kernel's [`WaitRing`] where the system has one, else (and a
/// `lockAsync` always) on a waiter thread, starting one when none is idle. Fails, leaving nothing
/// behind, when no thread can be started: the OS refuses one, or waiter threads would take more
/// than their share of an address-space limit (`ulimit -v`), where V8 would then abort for lack
/// of memory instead.
pub fn start(job: Job) -> ShmResult<()> {
  let job = match WaitRing::get() {
    Some(ring) => match job.into_ring(ring) {
      Ok(()) => return Ok(()),
      Err(job) => job,
    },
    None => job,
  };
  start_thread(job)
}

/// Hands `job` to a waiter thread, as [`start`] does where the ring cannot take it.
fn start_thread(job: Job) -> ShmResult<()> {
  static THREADS: OnceLock<Arc<WaiterThreads>> = OnceLock::new();
  let threads = THREADS.get_or_init(|| {
    Arc::new(WaiterThreads {
      state: Mutex::new(Queue {
        jobs: VecDeque::new(),
        idle: 0,
        running: 0,
      }),
      work: Condvar::new(),
    })
  });
  let mut queue = threads.state.lock().unwrap_or_else(|e| e.into_inner());
  if queue.idle > queue.jobs.len() {
    queue.jobs.push_back(job);
    drop(queue);
    threads.work.notify_one();
    return Ok(());
  }
  if !crate::os::thread_budget(queue.running, WAITER_STACK) {
    return Err(ShmError::TooManyWaits {
      name: job.name,
      running: queue.running,
    });
  }
  let pool = Arc::clone(threads);
  let spawned = std::thread::Builder::new()
    .name("shared-memory-wait".into())
    .stack_size(WAITER_STACK)
    .spawn(move || pool.serve());
  match spawned {
    Ok(_) => {
      queue.running += 1;
      queue.jobs.push_back(job);
      drop(queue);
      threads.work.notify_one();
      Ok(())
    }
    Err(e) => Err(ShmError::from_os(&job.name, e)),
  }
}

impl WaiterThreads {
  fn serve(&self) {
    loop {
      let mut queue = self.state.lock().unwrap_or_else(|e| e.into_inner());
      let job = loop {
        if let Some(job) = queue.jobs.pop_front() {
          break job;
        }
        queue.idle += 1;
        queue = self
          .work
          .wait_timeout(queue, IDLE_EXIT)
          .unwrap_or_else(|e| e.into_inner())
          .0;
        queue.idle -= 1;
        // Woken with no job (the idle time ran out, another thread took the job, or a spurious
        // wake-up): this thread ends; `start` makes a new one when it finds no idle thread.
        if queue.jobs.is_empty() {
          queue.running -= 1;
          return;
        }
      };
      drop(queue);
      job.run();
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn tracked_items_are_forgotten_once_dropped_and_every_live_one_is_kept() {
    let mut tracked = Tracked::<u32>::default();
    let live: Vec<(u32, Arc<u32>)> = (0..100)
      .map(|n| {
        let item = Arc::new(n);
        (tracked.track(&item), item)
      })
      .collect();
    // Ten thousand that finish (are dropped) at once: the map stays near the live ones.
    for n in 0..10_000 {
      tracked.track(&Arc::new(n));
      assert!(
        tracked.items.len() <= 2 * (live.len() + 64),
        "{}",
        tracked.items.len()
      );
    }
    for (id, item) in &live[..50] {
      assert!(Arc::ptr_eq(&tracked.take(*id).expect("a live item"), item));
      assert!(tracked.take(*id).is_none(), "taken twice");
    }
    let rest = tracked.take_all();
    assert_eq!(rest.len(), 50);
    assert!(live[50..]
      .iter()
      .all(|(_, item)| rest.iter().any(|r| Arc::ptr_eq(r, item))));
    assert!(tracked.take_all().is_empty());
  }

  #[test]
  fn timeouts_too_long_to_represent_wait_forever_and_negative_ones_not_at_all() {
    let now = Instant::now();
    for forever in [f64::NAN, f64::INFINITY, 1e23, f64::MAX, 1.8e22, FOREVER_MS] {
      assert_eq!(deadline_after(forever, now), None, "{forever}");
    }
    // A second below the bound: a real deadline, on every OS.
    assert_eq!(
      deadline_after(FOREVER_MS - 1000.0, now),
      Some(now + Duration::from_secs(FOREVER_MS as u64 / 1000 - 1))
    );
    for immediate in [0.0, -0.0, -1.0, f64::NEG_INFINITY, -f64::MAX] {
      assert_eq!(deadline_after(immediate, now), Some(now), "{immediate}");
    }
    assert_eq!(
      deadline_after(1500.0, now),
      Some(now + Duration::from_millis(1500))
    );
  }
}
