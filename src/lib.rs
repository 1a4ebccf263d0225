//! `@markusjx/shared_memory` 2.x: named shared-memory blocks for Node.js.
//!
//! - [`shared_memory`]: the `SharedMemory` class JavaScript sees (the only `#[napi]` surface).
//! - [`block`]: one mapped block with bounds-checked copies; [`os`]: the OS layer behind it.
//! - [`name`]: which names are valid per OS; [`id`]: `generateId`.
//! - [`error`]: every JS error, and the one mapping from OS errors; [`js`]: JS argument handling.

#![deny(unsafe_op_in_unsafe_fn)]

mod block;
mod error;
mod id;
mod js;
mod name;
mod options;
mod os;
mod shared_memory;
mod view;
mod wait;

/// The pure rules, for the fuzz targets in `fuzz/`; not part of the Node.js API.
#[doc(hidden)]
pub mod fuzzing {
  pub use crate::block::{range, text_len};
  pub use crate::name::{os_name, NameError, Platform};
  pub use crate::wait::to_int32;
}
