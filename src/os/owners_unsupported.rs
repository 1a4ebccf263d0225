//! Systems where this release cannot yet tell whether a lock's owner lives (FreeBSD, others):
//! `lock` and its siblings fail there with `ERR_SHM_UNSUPPORTED`, rather than hand out a lock
//! that a dead owner could keep forever. See docs/decisions.md, "Locks".

use std::io;

#[derive(Debug)]
pub struct OwnerMarks;

impl OwnerMarks {
  #[cfg_attr(
    windows,
    allow(
      dead_code,
      reason = "a Windows segment keeps no descriptor to make marks from"
    )
  )]
  pub fn new<T: ?Sized>(_descriptor: &T, _identity: (u64, u64)) -> io::Result<OwnerMarks> {
    Ok(OwnerMarks)
  }

  pub fn mark(&self, _token: u64) -> io::Result<()> {
    Err(unsupported())
  }

  pub fn alive(&self, _token: u64) -> io::Result<bool> {
    Err(unsupported())
  }

  #[cfg_attr(
    windows,
    allow(
      dead_code,
      reason = "a Windows segment keeps no descriptor to make marks from"
    )
  )]
  pub fn release(&self) {}
}

pub fn lock_token() -> io::Result<u64> {
  Err(unsupported())
}

fn unsupported() -> io::Error {
  io::Error::new(
    io::ErrorKind::Unsupported,
    "locks are not available on this system yet: this release tells whether a lock's owner died on Linux, Windows and macOS only",
  )
}
