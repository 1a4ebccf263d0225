//! The OS layer: one named shared-memory segment mapped into this process.
//!
//! [`Segment`] is the only type that talks to the OS. POSIX shared memory (`shm_open` + `mmap`)
//! lives in `unix.rs`, pagefile-backed named file mappings in `windows.rs`; everything above this
//! module is free of `cfg`. Errors are plain [`std::io::Error`]s, mapped to JS errors in one place
//! (`crate::error`).

#[cfg_attr(unix, path = "unix.rs")]
#[cfg_attr(windows, path = "windows.rs")]
#[cfg_attr(not(any(unix, windows)), path = "unsupported.rs")]
mod imp;

pub use imp::{exists, unlink, Segment};

/// How a segment is mapped into this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
  ReadWrite,
  #[allow(dead_code, reason = "the readOnly option comes next")]
  ReadOnly,
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
