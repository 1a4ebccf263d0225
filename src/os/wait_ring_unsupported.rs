//! Systems without a shared kernel wait for `waitAsync` (all but Linux): each pending wait takes
//! a thread of its own (docs/decisions.md, "Waiting at scale").

use std::convert::Infallible;
use std::io;
use std::time::Instant;

use super::{WaitOutcome, WatchedWord};

/// Called once with how a wait ended; answers whether anyone received it.
pub type WaitDone = Box<dyn FnOnce(io::Result<WaitOutcome>) -> bool + Send>;

/// No ring here: [`WaitRing::get`] answers `None`, so no value of this type exists.
pub struct WaitRing(Infallible);

impl WaitRing {
  pub fn get() -> Option<&'static WaitRing> {
    None
  }

  pub fn wait(
    &self,
    _word: WatchedWord,
    _expected: u32,
    _deadline: Option<Instant>,
    _tag: &str,
    _done: WaitDone,
  ) -> u64 {
    match self.0 {}
  }

  pub fn cancel(&self, _id: u64) {
    match self.0 {}
  }

  pub fn armed(&self, _tag: &str) -> usize {
    match self.0 {}
  }
}
