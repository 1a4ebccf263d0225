//! The OS layer: one named shared-memory segment mapped into this process.
//!
//! [`Segment`] is the only type that talks to the OS. POSIX shared memory (`shm_open` + `mmap`)
//! lives in `unix.rs`, pagefile-backed named file mappings in `windows.rs`; everything above this
//! module is free of `cfg`. Errors are plain [`std::io::Error`]s, mapped to JS errors in one place
//! (`crate::error`).

use std::sync::atomic::{AtomicU32, AtomicU64};

// One `cfg` + `path` per system rather than `cfg_attr(.., path)`: tools that walk the module tree
// (cargo-mutants, see docs/testing.md) follow a plain `path` but not one inside `cfg_attr`.
#[cfg(unix)]
#[path = "unix.rs"]
mod imp;
#[cfg(windows)]
#[path = "windows.rs"]
mod imp;
#[cfg(not(any(unix, windows)))]
#[path = "unsupported.rs"]
mod imp;

#[cfg(unix)]
pub use imp::interrupt;
pub use imp::{at_exit, exists, is_original_process, thread_budget, unlink, Segment, WatchedWord};

/// Whether the thread that holds a lock lives: kernel-kept marks where the system has them.
#[cfg(target_os = "linux")]
#[path = "owners_linux.rs"]
mod owners;
#[cfg(target_os = "macos")]
#[path = "owners_macos.rs"]
mod owners;
#[cfg(windows)]
use imp::owners;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
#[path = "owners_unsupported.rs"]
mod owners;

pub use owners::lock_token;

/// When a wait watches the word and when it sleeps: the one policy every wait follows.
mod watch;

pub use watch::before_async_sleep;
use watch::{next_slice, settled_before_sleep};

/// Pending `waitAsync` calls held by the kernel, without a thread each, where the system can.
#[cfg(target_os = "linux")]
#[path = "wait_ring_linux.rs"]
mod wait_ring;
#[cfg(not(target_os = "linux"))]
#[path = "wait_ring_unsupported.rs"]
mod wait_ring;

pub use wait_ring::WaitRing;

/// The futex of each Unix system, behind one `wait`/`wake` pair (used by `unix.rs`).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "futex_linux.rs"]
mod futex;
#[cfg(target_os = "macos")]
#[path = "futex_macos.rs"]
mod futex;
#[cfg(target_os = "freebsd")]
#[path = "futex_freebsd.rs"]
mod futex;
#[cfg(all(
  unix,
  not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "freebsd"
  ))
))]
#[path = "futex_unsupported.rs"]
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

/// Something other than a shared-memory object at a block's name (a FIFO or a directory another
/// user put in `/dev/shm`), carried inside an `io::Error` to `crate::error`.
#[derive(Debug)]
pub struct NotABlock(pub &'static str);

impl std::fmt::Display for NotABlock {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(
      f,
      "the name is taken by {}, not a shared memory block",
      self.0
    )
  }
}

impl std::error::Error for NotABlock {}

/// A block that exists but is not this user's alone (another user owns it, or it has other
/// names), found where only this user's may be used (`'if-missing'`), carried inside an
/// `io::Error` to `crate::error`; it says why.
#[derive(Debug)]
pub struct ForeignBlock(pub String);

impl std::fmt::Display for ForeignBlock {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&self.0)
  }
}

impl std::error::Error for ForeignBlock {}

/// How a segment is mapped into this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
  ReadWrite,
  ReadOnly,
}

/// A word of a segment that a waiter thread sleeps on through the segment's own mapping: the
/// `WatchedWord` of the systems whose `release` leaves the mapping shared until the segment is
/// dropped (Windows; and the stub of unsupported systems). `unix.rs` has its own.
#[cfg(not(unix))]
pub struct SegmentWord {
  segment: std::sync::Arc<Segment>,
  offset: usize,
}

#[cfg(not(unix))]
impl SegmentWord {
  pub fn new(segment: std::sync::Arc<Segment>, offset: usize) -> SegmentWord {
    SegmentWord { segment, offset }
  }

  /// [`Segment::wait`] on this word; `interrupt` is looked at between sleeps (as `cancelled()`).
  pub fn wait(
    &self,
    expected: u32,
    deadline: Option<std::time::Instant>,
    cancelled: &dyn Fn() -> bool,
    _interrupt: &AtomicU32,
  ) -> std::io::Result<WaitOutcome> {
    self
      .segment
      .wait(self.offset, expected, deadline, cancelled)
  }
}

/// Sets `word`, the interrupt of a waiter thread's wait ([`SegmentWord::wait`]), which it sees at
/// the end of its sleep: nothing here ends one thread's sleep alone. (`unix.rs` has its own.)
#[cfg(not(unix))]
pub fn interrupt(word: &AtomicU32) {
  word.store(1, std::sync::atomic::Ordering::SeqCst);
}

impl Segment {
  /// The 32-bit word at `offset`, to read and wait on atomically.
  ///
  /// # Panics
  /// If `offset` is not a multiple of 4 with the word inside the mapping: callers check first.
  pub fn word(&self, offset: usize) -> &AtomicU32 {
    assert!(
      offset.is_multiple_of(4) && offset.checked_add(4).is_some_and(|end| end <= self.len()),
      "a word inside the mapping"
    );
    // SAFETY: the 4 bytes at `offset` are inside the mapping (checked above), which stays mapped
    // (shared, or private memory in its place after `release`) while `&self` lives, and 4-aligned
    // (every OS maps at page or allocation-granularity boundaries). An `AtomicU32` has the layout
    // of a `u32`, and atomic access is how memory that other processes change must be read.
    unsafe { &*self.as_ptr().add(offset).cast::<AtomicU32>() }
  }
}

impl Segment {
  /// The 64-bit lock word at `offset`.
  ///
  /// # Panics
  /// If `offset` is not a multiple of 8 with the word inside the mapping: callers check first.
  pub fn lock_word(&self, offset: usize) -> &AtomicU64 {
    assert!(
      offset.is_multiple_of(8) && offset.checked_add(8).is_some_and(|end| end <= self.len()),
      "a lock word inside the mapping"
    );
    // SAFETY: as in `word`: the 8 bytes are inside the mapping, which stays mapped while `&self`
    // lives, and 8-aligned (mappings start at page boundaries); `AtomicU64` has the layout of a
    // `u64`.
    unsafe { &*self.as_ptr().add(offset).cast::<AtomicU64>() }
  }

  /// Marks the current thread, whose lock token is `token` ([`lock_token`]), alive as a lock
  /// owner in this block, for as long as the thread lives and this process keeps the block open.
  pub fn mark_owner(&self, token: u64) -> std::io::Result<()> {
    self.owner_marks().mark(token)
  }

  /// Whether the thread with lock token `token` lives and holds this block open (an error where
  /// the system cannot tell: the caller then counts it alive).
  pub fn owner_alive(&self, token: u64) -> std::io::Result<bool> {
    self.owner_marks().alive(token)
  }
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
