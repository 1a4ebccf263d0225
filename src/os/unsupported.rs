//! Platforms without POSIX shared memory or Windows file mappings: every call fails cleanly.

use std::io;

use std::time::Instant;

use super::{Access, WaitOutcome};

fn unsupported() -> io::Error {
  io::Error::new(
    io::ErrorKind::Unsupported,
    "shared memory is not supported on this platform",
  )
}

#[derive(Debug)]
pub struct Segment {
  never: std::convert::Infallible,
}

impl Segment {
  pub fn create(_os_name: &str, _len: usize, _mode: u32) -> io::Result<Segment> {
    Err(unsupported())
  }

  pub fn open(
    _os_name: &str,
    _access: Access,
    _size: Option<usize>,
    _own_only: bool,
  ) -> io::Result<Segment> {
    Err(unsupported())
  }

  pub fn as_ptr(&self) -> *mut u8 {
    match self.never {}
  }

  pub fn len(&self) -> usize {
    match self.never {}
  }

  pub fn unlink_if_same(&self, _os_name: &str) -> io::Result<bool> {
    match self.never {}
  }

  pub fn release(&self) -> io::Result<()> {
    match self.never {}
  }

  pub(super) fn owner_marks(&self) -> &super::owners::OwnerMarks {
    match self.never {}
  }

  pub fn being_created(&self) -> bool {
    match self.never {}
  }

  pub fn reclaim_if_stale(_os_name: &str) -> io::Result<bool> {
    Err(unsupported())
  }

  pub fn wait(
    &self,
    _offset: usize,
    _expected: u32,
    _deadline: Option<Instant>,
    _cancelled: &dyn Fn() -> bool,
  ) -> io::Result<WaitOutcome> {
    match self.never {}
  }

  pub fn wake(&self, _offset: usize, _count: u32) -> io::Result<usize> {
    match self.never {}
  }
}

pub fn unlink(_os_name: &str) -> io::Result<()> {
  Err(unsupported())
}

pub fn exists(_os_name: &str) -> io::Result<bool> {
  Err(unsupported())
}

pub fn at_exit(_f: extern "C" fn()) {}

pub fn thread_budget(_running: usize, _stack: usize) -> bool {
  false
}

pub fn is_original_process() -> bool {
  true
}

/// The word a `waitAsync` thread sleeps on: the segment's own (a Windows segment keeps its view
/// until it is dropped, so the word stays shared while the thread waits).
pub use super::SegmentWord as WatchedWord;
