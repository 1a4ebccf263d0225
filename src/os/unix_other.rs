//! What the POSIX layer (`unix.rs`) does on the Unix systems other than Linux (macOS, FreeBSD):
//! a shm name is not a path, and there is no `mremap` or `/proc/self/statm`. Linux's answers are
//! in `unix_linux.rs`. This file is not compiled on Linux, so no mutation run reaches it
//! (docs/testing.md).

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::fs::fstat;
use rustix::mm::MapFlags;
use rustix::shm;

use super::super::{futex, FutexWait};
use super::{identity_of, Segment};

/// The identity of the object the name `os_name` names now, if any. Shm names are not paths
/// here: open the object to ask.
pub(super) fn identity_of_name(os_name: &str) -> io::Result<Option<(u64, u64)>> {
  match shm::open(os_name, shm::OFlags::RDONLY, rustix::fs::Mode::empty()) {
    Ok(fd) => Ok(Some(identity_of(&fstat(&fd)?))),
    Err(rustix::io::Errno::NOENT) => Ok(None),
    Err(e) => Err(e.into()),
  }
}

/// Shm names are not paths here and cannot be symlinks or FIFOs.
pub(super) fn open_flags() -> shm::OFlags {
  shm::OFlags::empty()
}

/// Untouched private pages cost nothing until written.
pub(super) fn no_reserve() -> MapFlags {
  MapFlags::empty()
}

/// Unknown here: the waiter threads' budget then takes its rule for an unknown use.
pub(super) fn address_space_used() -> Option<u64> {
  None
}

/// There is no `mremap` here: a wait watches the word in the block's own mapping, so no value
/// of this type is ever made.
pub(super) enum PageAgain {}

impl PageAgain {
  pub(super) fn of(_segment: &Segment, _offset: usize) -> Option<PageAgain> {
    None
  }

  pub(super) fn word(&self, _offset: usize) -> &AtomicU32 {
    match *self {}
  }
}

/// One sleep of a waiter thread on `word`: its slice, or a wake of `word`. Nothing here sleeps
/// on two words at once, so `interrupt` is looked at only between sleeps.
pub(super) fn sleep(
  word: &AtomicU32,
  expected: u32,
  _interrupt: &AtomicU32,
  slice: Duration,
) -> io::Result<FutexWait> {
  futex::wait(word, expected, slice)
}

/// Sets `interrupt`, which a waiter thread sees at the end of its sleep.
pub(super) fn interrupt(interrupt: &AtomicU32) {
  interrupt.store(1, Ordering::SeqCst);
}

/// No page is mapped again here ([`PageAgain`]), so `close()` has nothing to wait for.
pub(super) fn interrupts_end_sleeps() -> bool {
  false
}

/// macOS backs POSIX shm with anonymous memory and has no `fallocate`; there is no tmpfs size
/// limit to hit.
#[cfg(not(target_os = "freebsd"))]
pub(super) fn set_size(fd: &rustix::fd::OwnedFd, size: u64) -> io::Result<()> {
  Ok(rustix::fs::ftruncate(fd, size)?)
}
