//! `@markusjx/shared_memory` 2.x: named shared-memory blocks for Node.js.
//!
//! - [`shared_memory`]: the `SharedMemory` class JavaScript sees (the only `#[napi]` surface).
//! - [`block`]: one mapped block with bounds-checked copies; [`os`]: the OS layer behind it.
//! - [`name`]: which names are valid per OS; [`rules`]: ranges, text length, `ToInt32`;
//!   [`id`]: `generateId`.
//! - [`wait`], [`lock`]: waiting and notifying; the cross-process lock's slow paths.
//! - [`error`]: every JS error, and the one mapping from OS errors; [`js`]: JS argument handling.

#![deny(unsafe_op_in_unsafe_fn)]

mod block;
mod error;
mod id;
mod js;
mod lock;
mod name;
mod options;
mod os;
mod rules;
mod shared_memory;
mod view;
mod wait;
