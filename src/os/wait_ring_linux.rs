//! Linux: `waitAsync` without a thread per wait. One thread per process owns an io_uring and keeps
//! every pending wait armed in the kernel as an `IORING_OP_FUTEX_WAIT` (Linux 6.7 and later),
//! with a linked timeout for its deadline. Each wait ends with a completion of its own, so a
//! notify that wakes n waiters settles exactly n of them; `futex_waitv(2)` reports only one of
//! the words that woke it, and a notify that leaves the word unchanged would be lost to the others
//! (docs/decisions.md, "Waiting at scale").
//!
//! Other threads never touch the ring: they queue a [`Command`] and ring the thread's doorbell, a
//! private futex word that the ring itself waits on. So the ring has one submitter, and the kernel
//! runs its completion work on that thread instead of interrupting a JS thread.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use io_uring::{opcode, squeue, types, IoUring};
use rustix::thread::futex;

use super::{WaitOutcome, WatchedWord};

/// Called once, on the ring's thread, with how a wait ended; answers whether anyone received it
/// (a wait cancelled meanwhile, or whose JS thread is gone, did not).
pub type WaitDone = Box<dyn FnOnce(io::Result<WaitOutcome>) -> bool + Send>;

/// The process's ring of pending waits.
pub struct WaitRing {
  commands: Mutex<Vec<Command>>,
  /// Bumped by every queued command; the ring's thread sleeps on it.
  doorbell: AtomicU32,
  next_id: AtomicU64,
  /// Waits armed in the kernel now, by the tag they were started with (a block's name).
  armed: Mutex<HashMap<String, usize>>,
  /// Set once the ring failed for good: waits go to threads again.
  broken: AtomicBool,
}

enum Command {
  Wait(Pending),
  Cancel(u64),
}

struct Pending {
  id: u64,
  word: WatchedWord,
  expected: u32,
  deadline: Option<Instant>,
  tag: String,
  done: WaitDone,
}

/// A wait the kernel holds.
struct Armed {
  /// Keeps the word mapped, to hand on a wake-up that nobody received.
  word: WatchedWord,
  expected: u32,
  deadline: Option<Instant>,
  /// The deadline's timeout, which the kernel reads when it takes the request: kept until the
  /// wait ends, so that it is there whenever that is (a batch the kernel takes only in part
  /// leaves the rest for a later submission).
  _timeout: Option<Box<types::Timespec>>,
  tag: String,
  done: WaitDone,
  /// A cancel was asked for by its caller (an abort, `close()`).
  cancel_requested: bool,
  /// Its timeout failed to start: cancelled by the ring, to be armed again.
  rearm: bool,
  /// Counted in [`WaitRing::armed`] (once its request is in the kernel).
  counted: bool,
}

/// `user_data` of the ring's own requests; waits count up from 1 and never reach these. A wait's
/// timeout is [`TIMEOUT_OF`] with the wait's id.
const DOORBELL: u64 = u64::MAX;
const CANCEL: u64 = u64::MAX - 1;
const TIMEOUT_OF: u64 = 1 << 62;

/// futex2 flags: a 32-bit word (`FUTEX2_SIZE_U32`), shared between processes unless
/// `FUTEX2_PRIVATE`, as a block's words are.
const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;
const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;

/// Set to anything, this environment variable keeps `waitAsync` on a thread per wait, as on
/// kernels without io_uring futex waits (a way out, and how the tests cover that path).
pub const THREADS_VARIABLE: &str = "SHARED_MEMORY_WAIT_THREADS";

impl WaitRing {
  /// The ring, started on first use; `None` where the kernel has no io_uring futex waits (older
  /// than 6.7, io_uring turned off by `kernel.io_uring_disabled` or refused by a seccomp profile)
  /// or [`THREADS_VARIABLE`] is set. Then `waitAsync` takes a thread per wait.
  pub fn get() -> Option<&'static WaitRing> {
    static RING: OnceLock<Option<&'static WaitRing>> = OnceLock::new();
    let ring = *RING.get_or_init(|| {
      if std::env::var_os(THREADS_VARIABLE).is_some() {
        return None;
      }
      start().ok()
    });
    ring.filter(|ring| !ring.broken.load(Ordering::Acquire))
  }

  /// Arms a wait while `word` holds `expected`, until `deadline`; `done` hears how it ended.
  /// Returns the id that cancels it.
  pub fn wait(
    &self,
    word: WatchedWord,
    expected: u32,
    deadline: Option<Instant>,
    tag: &str,
    done: WaitDone,
  ) -> u64 {
    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
    self.send(Command::Wait(Pending {
      id,
      word,
      expected,
      deadline,
      tag: tag.to_owned(),
      done,
    }));
    id
  }

  /// Ends the wait `id` now, if it is still pending; its `done` hears `Cancelled`.
  pub fn cancel(&self, id: u64) {
    self.send(Command::Cancel(id));
  }

  /// How many waits started with `tag` the kernel holds now.
  pub fn armed(&self, tag: &str) -> usize {
    let armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
    armed.get(tag).copied().unwrap_or(0)
  }

  fn send(&self, command: Command) {
    self
      .commands
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .push(command);
    self.doorbell.fetch_add(1, Ordering::Release);
    // A failed wake (it cannot fail on a valid word) would leave the command for the next one.
    let _ = futex::wake(&self.doorbell, futex::Flags::PRIVATE, 1);
  }

  /// The doorbell's value, then every command queued: a command queued after the read has
  /// changed the value, so a wait on the doorbell armed with it ends at once.
  fn take_commands(&self) -> (u32, Vec<Command>) {
    let bell = self.doorbell.load(Ordering::Acquire);
    let commands =
      std::mem::take(&mut *self.commands.lock().unwrap_or_else(PoisonError::into_inner));
    (bell, commands)
  }

  fn count(&self, tag: &str, armed: bool) {
    let mut counts = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
    let count = counts.entry(tag.to_owned()).or_insert(0);
    if armed {
      *count += 1;
    } else {
      *count = count.saturating_sub(1);
      if *count == 0 {
        counts.remove(tag);
      }
    }
  }
}

/// Starts the ring's thread, which sets the ring up; fails where the kernel cannot.
fn start() -> io::Result<&'static WaitRing> {
  let ring: &'static WaitRing = Box::leak(Box::new(WaitRing {
    commands: Mutex::new(Vec::new()),
    doorbell: AtomicU32::new(0),
    next_id: AtomicU64::new(1),
    armed: Mutex::new(HashMap::new()),
    broken: AtomicBool::new(false),
  }));
  let (ready, set_up) = mpsc::channel();
  std::thread::Builder::new()
    .name("shared-memory-r".into())
    .stack_size(128 * 1024)
    .spawn(move || match set_up_ring() {
      Ok(uring) => {
        let _ = ready.send(Ok(()));
        Reactor::new(ring, uring).run();
      }
      Err(e) => drop(ready.send(Err(e))),
    })?;
  set_up
    .recv()
    .map_err(|_| io::Error::other("the wait ring's thread ended"))??;
  Ok(ring)
}

/// Entries of the submission queue: a wait takes two (the futex wait and its timeout).
const SUBMISSION_ENTRIES: u32 = 128;
/// Completions the ring holds before the kernel buffers the rest. A notify that wakes 10,000
/// waits at once fits (each wait with a timeout completes twice); beyond, the kernel buffers
/// them, and fails the ring only if it cannot allocate even that.
const COMPLETION_ENTRIES: u32 = 32768;

/// A ring whose opcodes include futex waits, linked timeouts and cancels. Created on the thread
/// that uses it: the only one that submits, and where the kernel defers completion work to.
fn set_up_ring() -> io::Result<IoUring> {
  let uring = IoUring::builder()
    .setup_cqsize(COMPLETION_ENTRIES)
    .setup_submit_all()
    .setup_single_issuer()
    .setup_defer_taskrun()
    .build(SUBMISSION_ENTRIES)
    .or_else(|_| {
      IoUring::builder()
        .setup_cqsize(COMPLETION_ENTRIES)
        .setup_submit_all()
        .build(SUBMISSION_ENTRIES)
    })?;
  let mut probe = io_uring::Probe::new();
  uring.submitter().register_probe(&mut probe)?;
  for opcode in [
    opcode::FutexWait::CODE,
    opcode::LinkTimeout::CODE,
    opcode::AsyncCancel::CODE,
  ] {
    if !probe.is_supported(opcode) {
      return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
  }
  if !uring.params().is_feature_nodrop() {
    return Err(io::Error::from(io::ErrorKind::Unsupported));
  }
  Ok(uring)
}

/// The ring's thread: arms what is queued, and settles what completes.
struct Reactor {
  ring: &'static WaitRing,
  /// `None` once the ring failed: closing it took the kernel's waits out of the futex queues.
  uring: Option<IoUring>,
  armed: HashMap<u64, Armed>,
  /// Whether a wait on the doorbell is in the kernel.
  listening: bool,
  /// Waits queued but not yet known to be in the kernel, counted as armed once they are.
  unsubmitted: Vec<u64>,
}

impl Reactor {
  fn new(ring: &'static WaitRing, uring: IoUring) -> Reactor {
    Reactor {
      ring,
      uring: Some(uring),
      armed: HashMap::new(),
      listening: false,
      unsubmitted: Vec::new(),
    }
  }

  fn uring(&self) -> &IoUring {
    // Only `fail` takes it, and nothing runs after `fail`.
    self
      .uring
      .as_ref()
      .expect("the ring is open until it fails")
  }

  fn run(mut self) {
    loop {
      let (bell, commands) = self.ring.take_commands();
      for command in commands {
        match command {
          Command::Wait(pending) => self.arm(pending),
          Command::Cancel(id) => self.request_cancel(id),
        }
      }
      if !self.unsubmitted.is_empty() {
        self.submit();
      }
      if !self.listening {
        // Armed with the value read before the commands were taken: a command queued since has
        // changed it, and the wait ends at once.
        let listen = opcode::FutexWait::new(
          self.ring.doorbell.as_ptr(),
          u64::from(bell),
          FUTEX_BITSET_MATCH_ANY,
          FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
        )
        .build()
        .user_data(DOORBELL);
        self.push(&[listen]);
        self.listening = true;
      }
      match self.uring().submit_and_wait(1) {
        Ok(_) => self.submitted(),
        // A signal, or completions the kernel holds back until these are reaped: reap, go on.
        Err(e) if retry(&e) => {}
        Err(e) => self.fail(e),
      }
      self.reap();
    }
  }

  /// Hands what is queued to the kernel (which arms each futex wait as it takes it). Where the
  /// kernel asks for room (it holds completions back: `submit` then also flushes them) or cannot
  /// allocate a request yet, it reaps and tries again a millisecond later.
  fn submit(&mut self) {
    loop {
      match self.uring().submit() {
        Ok(_) => return self.submitted(),
        Err(e) if retry(&e) => {
          self.reap();
          std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Err(e) => self.fail(e),
      }
    }
  }

  /// Counts the waits whose requests are in the kernel now: all queued ones, once the kernel took
  /// the whole submission queue (it may take a batch in part, when it cannot allocate).
  fn submitted(&mut self) {
    // SAFETY: this thread is the only one that uses the submission queue.
    if !unsafe { self.uring().submission_shared() }.is_empty() {
      return;
    }
    for id in std::mem::take(&mut self.unsubmitted) {
      if let Some(armed) = self.armed.get_mut(&id) {
        armed.counted = true;
        self.ring.count(&armed.tag, true);
      }
    }
  }

  /// Queues `entries` (linked ones together), submitting first where the queue is full.
  fn push(&mut self, entries: &[squeue::Entry]) {
    loop {
      // SAFETY: this thread is the only one that uses the submission queue. Each entry's
      // pointers (a word kept mapped by its `Armed`, and its timeout, until its completion; the
      // doorbell, never freed) stay valid as long as the kernel may read them.
      let pushed = unsafe { self.uring().submission_shared().push_multiple(entries) };
      if pushed.is_ok() {
        return;
      }
      self.submit();
    }
  }

  fn arm(&mut self, pending: Pending) {
    let Pending {
      id,
      word,
      expected,
      deadline,
      tag,
      done,
    } = pending;
    let futex_wait = opcode::FutexWait::new(
      word.word().as_ptr(),
      u64::from(expected),
      FUTEX_BITSET_MATCH_ANY,
      FUTEX2_SIZE_U32,
    )
    .build()
    .user_data(id);
    let timeout = deadline.map(|deadline| {
      let left = deadline.saturating_duration_since(Instant::now());
      Box::new(
        types::Timespec::new()
          .sec(left.as_secs())
          .nsec(left.subsec_nanos()),
      )
    });
    let entries = match &timeout {
      None => vec![futex_wait],
      Some(timeout) => vec![
        futex_wait.flags(squeue::Flags::IO_LINK),
        opcode::LinkTimeout::new(&**timeout)
          .build()
          .user_data(TIMEOUT_OF | id),
      ],
    };
    // In the map first: a submission inside `push` may complete it already.
    self.armed.insert(
      id,
      Armed {
        word,
        expected,
        deadline,
        _timeout: timeout,
        tag,
        done,
        cancel_requested: false,
        rearm: false,
        counted: false,
      },
    );
    self.push(&entries);
    self.unsubmitted.push(id);
  }

  fn request_cancel(&mut self, id: u64) {
    let Some(armed) = self.armed.get_mut(&id) else {
      return; // over already
    };
    armed.cancel_requested = true;
    self.push(&[opcode::AsyncCancel::new(id).build().user_data(CANCEL)]);
  }

  /// Settles every wait whose completion is in.
  fn reap(&mut self) {
    // SAFETY: this thread is the only one that reads the completion queue.
    let completions: Vec<(u64, i32)> = unsafe { self.uring().completion_shared() }
      .map(|cqe| (cqe.user_data(), cqe.result()))
      .collect();
    for (id, result) in completions {
      match id {
        DOORBELL => self.listening = false,
        CANCEL => {}
        id if id & TIMEOUT_OF != 0 => self.timeout_ended(id & !TIMEOUT_OF, result),
        id => self.finish(id, result),
      }
    }
  }

  /// A wait's timeout ended: fired (`ETIME`, or the number of requests it cancelled, which is
  /// what Linux reports for a futex wait), or cancelled with its wait (`ECANCELED`, `ENOENT`,
  /// `EALREADY`). Any other error means it never started (the kernel could not allocate, say),
  /// and the wait would never time out: the ring cancels the wait and arms it again.
  fn timeout_ended(&mut self, id: u64, result: i32) {
    if result >= 0
      || matches!(
        -result,
        libc::ETIME | libc::ECANCELED | libc::ENOENT | libc::EALREADY
      )
    {
      return;
    }
    let Some(armed) = self.armed.get_mut(&id) else {
      return;
    };
    if !armed.cancel_requested && !armed.rearm {
      armed.rearm = true;
      self.push(&[opcode::AsyncCancel::new(id).build().user_data(CANCEL)]);
    }
  }

  fn finish(&mut self, id: u64, result: i32) {
    let Some(armed) = self.armed.remove(&id) else {
      return;
    };
    if armed.counted {
      self.ring.count(&armed.tag, false);
    }
    let deadline_passed = armed
      .deadline
      .is_some_and(|deadline| Instant::now() >= deadline);
    let outcome = match -result {
      0 => Ok(WaitOutcome::Ok),
      // The word no longer held the value when the wait was armed.
      libc::EAGAIN => Ok(WaitOutcome::NotEqual),
      libc::ECANCELED if armed.cancel_requested => Ok(WaitOutcome::Cancelled),
      // Ended by its linked timeout.
      libc::ECANCELED if deadline_passed && !armed.rearm => Ok(WaitOutcome::TimedOut),
      // Cancelled by the ring (its timeout never started), or with its linked timeout when that
      // failed: nobody asked, so it waits on.
      libc::ECANCELED => {
        return self.arm(Pending {
          id,
          word: armed.word,
          expected: armed.expected,
          deadline: armed.deadline,
          tag: armed.tag,
          done: armed.done,
        })
      }
      errno => Err(io::Error::from_raw_os_error(errno)),
    };
    let woken = matches!(outcome, Ok(WaitOutcome::Ok));
    let done = armed.done;
    // A panic in the settling (it calls into napi) must not end the ring's thread, which every
    // other pending wait needs: it counts as a result nobody received.
    let received = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || done(outcome)))
      .unwrap_or(false);
    if !received && woken {
      // A notify woke a wait that no one waits for any more: hand the wake-up on, so that it
      // reaches a waiter that still counts.
      let _ = futex::wake(armed.word.word(), futex::Flags::empty(), 1);
    }
  }

  /// The ring broke (an error no retry mends). Closing it first takes every wait it holds out of
  /// the kernel's futex queues (none may steal a later notify); then each ends with the error,
  /// and so does every wait queued before [`WaitRing::get`] stops handing them here (new waits
  /// take threads).
  fn fail(&mut self, error: io::Error) -> ! {
    let errno = error.raw_os_error().unwrap_or(libc::EIO);
    self.ring.broken.store(true, Ordering::Release);
    drop(self.uring.take());
    let armed: Vec<Armed> = self.armed.drain().map(|(_, armed)| armed).collect();
    self
      .ring
      .armed
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .clear();
    for armed in armed {
      let _ = (armed.done)(Err(io::Error::from_raw_os_error(errno)));
    }
    loop {
      let (bell, commands) = self.ring.take_commands();
      for command in commands {
        if let Command::Wait(pending) = command {
          let _ = (pending.done)(Err(io::Error::from_raw_os_error(errno)));
        }
      }
      let _ = futex::wait(&self.ring.doorbell, futex::Flags::PRIVATE, bell, None);
    }
  }
}

/// Whether a failed `io_uring_enter` may simply be tried again: a signal, or completions the
/// kernel holds back until some are reaped, or a request it could not allocate yet.
fn retry(error: &io::Error) -> bool {
  matches!(
    error.raw_os_error(),
    Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)
  )
}
