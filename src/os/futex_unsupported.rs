//! Unix systems without a known cross-process futex: wait and notify fail cleanly.

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::FutexWait;

pub fn wait(_word: &AtomicU32, _expected: u32, _timeout: Duration) -> io::Result<FutexWait> {
  Err(io::ErrorKind::Unsupported.into())
}

pub fn wake(_word: &AtomicU32, _count: u32) -> io::Result<usize> {
  Err(io::ErrorKind::Unsupported.into())
}
