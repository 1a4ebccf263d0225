//! The zero-copy view: one external Buffer over a block's mapping.
//!
//! The Buffer's finalizer hint owns an `Arc` of the mapping, so the address range stays mapped
//! while any JS value can reach it, even after the `SharedMemory` object is gone. `close()` never
//! detaches the Buffer (Node's thread-pool work holds raw pointers into it, and zlib aborts when a
//! buffer it streams over is detached): it releases the segment instead, which puts private
//! memory in place of the block's pages under the same addresses (`os::Segment::release`).

use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::error::{ShmError, ShmResult};
use crate::js::check;
use crate::os::Segment;

/// A strong reference to the one view Buffer of a `SharedMemory` object.
pub struct View {
  buffer: sys::napi_ref,
}

impl View {
  /// Makes the view: a Buffer over the first `len` bytes of `segment`, without copying.
  pub fn create(env: &Env, segment: &Arc<Segment>, len: usize, name: &str) -> ShmResult<View> {
    assert!(len <= segment.len(), "a view lies inside the mapping");
    let hint = Box::into_raw(Box::new(Arc::clone(segment)));
    let mut buffer = ptr::null_mut();
    // SAFETY: the memory at `segment.as_ptr()` is mapped for `len` bytes and stays mapped until
    // `release_mapping` runs, because the hint holds an `Arc` of the segment. napi calls the
    // finalizer exactly once, when V8 frees the backing store.
    let status = unsafe {
      sys::napi_create_external_buffer(
        env.raw(),
        len,
        segment.as_ptr().cast(),
        Some(release_mapping),
        hint.cast(),
        &mut buffer,
      )
    };
    if status == sys::Status::napi_no_external_buffers_allowed {
      // Refused before anything was made (Electron's memory cage): the hint is still ours.
      // SAFETY: `hint` came from `Box::into_raw` above and napi did not take it.
      drop(unsafe { Box::from_raw(hint) });
      return Err(ShmError::NoExternalBuffers {
        name: name.to_owned(),
      });
    }
    // Any other failure (a block larger than Node's Buffer limit: 4 GiB in Node 20) happens after
    // napi took the hint, and Node runs the finalizer itself, so the hint is not ours to free.
    check(status)?;
    let mut reference = ptr::null_mut();
    // SAFETY: `buffer` is the Buffer just created in this environment; the reference count 1 keeps
    // it alive until `detach` or `release`.
    check(unsafe { sys::napi_create_reference(env.raw(), buffer, 1, &mut reference) })?;
    Ok(View { buffer: reference })
  }

  /// The view Buffer.
  pub fn get<'env>(&self, env: &'env Env) -> ShmResult<Unknown<'env>> {
    let mut buffer = ptr::null_mut();
    // SAFETY: `self.buffer` is a live strong reference created in this environment.
    check(unsafe { sys::napi_get_reference_value(env.raw(), self.buffer, &mut buffer) })?;
    // SAFETY: `buffer` is the value napi just returned in this environment.
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), buffer) })
  }

  /// Drops our reference; the Buffer lives on as long as JS holds it.
  pub fn release(self, env: &Env) {
    // SAFETY: `self.buffer` is a live reference of this environment, deleted exactly once (this
    // consumes `self`). Failure is only possible for an invalid reference, which this is not.
    unsafe { sys::napi_delete_reference(env.raw(), self.buffer) };
  }
}

/// The finalizer of a view Buffer: gives back the `Arc` of the mapping.
unsafe extern "C" fn release_mapping(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
  // SAFETY: `hint` is the `Box<Arc<Segment>>` leaked in `View::create`, and napi calls this
  // finalizer once per Buffer.
  drop(unsafe { Box::from_raw(hint.cast::<Arc<Segment>>()) });
}
