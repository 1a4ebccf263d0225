//! Reading JS arguments and making JS values, with the exact error class for every wrong input.
//!
//! The `#[napi]` layer takes its arguments as [`Unknown`] and converts them here, because napi-rs's
//! own conversions throw plain `Error`s where users expect a `TypeError` or `RangeError`.

use std::ffi::c_void;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::error::{ShmError, ShmResult};

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn type_name(value: &Unknown) -> &'static str {
  match value.get_type() {
    Ok(ValueType::Undefined) => "undefined",
    Ok(ValueType::Null) => "null",
    Ok(ValueType::Boolean) => "a boolean",
    Ok(ValueType::Number) => "a number",
    Ok(ValueType::String) => "a string",
    Ok(ValueType::Symbol) => "a symbol",
    Ok(ValueType::Object) => "an object",
    Ok(ValueType::Function) => "a function",
    Ok(ValueType::BigInt) => "a bigint",
    _ => "an unknown value",
  }
}

pub fn wrong_type(what: &str, expected: &str, got: &Unknown) -> ShmError {
  ShmError::InvalidArgType(format!("{what} must be {expected}, got {}", type_name(got)))
}

/// A string argument, exactly as JS holds it: a string with a lone surrogate (which UTF-8 cannot
/// encode, so the OS would see another name than the caller wrote) is refused.
pub fn string(value: &Unknown, what: &str) -> ShmResult<String> {
  if value.get_type()? != ValueType::String {
    return Err(wrong_type(what, "a string", value));
  }
  let (env, raw) = (value.value().env, value.raw());
  let mut len = 0usize;
  // SAFETY: `raw` is a live string of the current call; a null buffer asks only for the length.
  check(unsafe { sys::napi_get_value_string_utf16(env, raw, ptr::null_mut(), 0, &mut len) })?;
  let mut units = vec![0u16; len + 1];
  let mut written = 0usize;
  // SAFETY: `units` is writable for `len + 1` UTF-16 units, as passed.
  check(unsafe {
    sys::napi_get_value_string_utf16(env, raw, units.as_mut_ptr(), units.len(), &mut written)
  })?;
  units.truncate(written);
  String::from_utf16(&units).map_err(|_| {
    ShmError::InvalidArgValue(format!(
      "{what} must be well-formed Unicode: it has a lone surrogate, which the OS would see as another name"
    ))
  })
}

/// An optional boolean argument: `undefined` means `default`.
pub fn optional_bool(value: &Unknown, what: &str, default: bool) -> ShmResult<bool> {
  match value.get_type()? {
    ValueType::Undefined => Ok(default),
    // SAFETY: the value was just checked to be a boolean.
    ValueType::Boolean => Ok(unsafe { bool::from_napi_value(value.value().env, value.raw()) }?),
    _ => Err(wrong_type(what, "a boolean", value)),
  }
}

/// A number argument, as an `f64`.
pub fn number(value: &Unknown, what: &str) -> ShmResult<f64> {
  if value.get_type()? != ValueType::Number {
    return Err(wrong_type(what, "a number", value));
  }
  // SAFETY: the value was just checked to be a number.
  Ok(unsafe { f64::from_napi_value(value.value().env, value.raw()) }?)
}

/// An optional byte offset or length: `undefined` is `None`, anything else must be a non-negative
/// safe integer.
pub fn optional_index(value: &Unknown, what: &str) -> ShmResult<Option<usize>> {
  if value.get_type()? == ValueType::Undefined {
    return Ok(None);
  }
  let n = number(value, what)?;
  // `-0` is 0, as `Number.isSafeInteger(-0)` says.
  if !((0.0..=MAX_SAFE_INTEGER).contains(&n) && n.fract() == 0.0) {
    return Err(ShmError::OutOfRange(format!(
      "{what} must be a non-negative safe integer, got {}",
      display_number(n)
    )));
  }
  // Larger than any block this process can map; the caller's range check reports it.
  Ok(Some(usize::try_from(n as u64).unwrap_or(usize::MAX)))
}

/// An optional integer in `0..=max`: `undefined` is `None`.
pub fn optional_integer(value: &Unknown, what: &str, max: u32) -> ShmResult<Option<u32>> {
  if value.get_type()? == ValueType::Undefined {
    return Ok(None);
  }
  let n = number(value, what)?;
  if !((0.0..=f64::from(max)).contains(&n) && n.fract() == 0.0) {
    return Err(ShmError::OutOfRange(format!(
      "{what} must be an integer from 0 to {max:#o}, got {}",
      display_number(n)
    )));
  }
  Ok(Some(n as u32))
}

/// Whether `value` is an object (not `null`, not a function, not an array): an options bag.
pub fn is_options_object(value: &Unknown) -> ShmResult<bool> {
  if value.get_type()? != ValueType::Object {
    return Ok(false);
  }
  let mut is_array = false;
  // SAFETY: `value` is a live argument of the current call; `is_array` is the `bool` napi writes.
  check(unsafe { sys::napi_is_array(value.value().env, value.raw(), &mut is_array) })?;
  Ok(!is_array && bytes(value)?.is_none())
}

/// The property `key` of the object `object` (running its getter, if any).
pub fn property<'env>(object: &Unknown<'env>, key: &std::ffi::CStr) -> ShmResult<Unknown<'env>> {
  let env = object.value().env;
  let mut result = ptr::null_mut();
  // SAFETY: `object` is a live object of the current call and `key` a NUL-terminated string.
  check(unsafe { sys::napi_get_named_property(env, object.raw(), key.as_ptr(), &mut result) })?;
  // SAFETY: `result` is the value napi just returned in this environment.
  Ok(unsafe { Unknown::from_raw_unchecked(env, result) })
}

/// The string `value`, or `None` if it is not a string.
pub fn string_value(value: &Unknown) -> ShmResult<Option<String>> {
  if value.get_type()? != ValueType::String {
    return Ok(None);
  }
  // SAFETY: the value was just checked to be a string.
  Ok(Some(unsafe {
    String::from_napi_value(value.value().env, value.raw())
  }?))
}

/// A block size: a positive safe integer that fits this process's address space.
pub fn size(value: &Unknown, what: &str) -> ShmResult<usize> {
  let n = number(value, what)?;
  if !((1.0..=MAX_SAFE_INTEGER).contains(&n) && n.fract() == 0.0) {
    return Err(ShmError::OutOfRange(format!(
      "{what} must be a positive safe integer, got {}",
      display_number(n)
    )));
  }
  // `isize::MAX` is the largest object Rust (and mmap) can address.
  if n > isize::MAX as f64 {
    return Err(ShmError::OutOfRange(format!(
      "{what} {n} is larger than this process can map"
    )));
  }
  Ok(n as usize)
}

/// A number in an error message, as JavaScript shows it (`Infinity`, `1e+300`), but for `-0`,
/// which stays `-0`: the sign is what makes it wrong where it is refused.
pub fn display_number(n: f64) -> String {
  if n.is_infinite() {
    return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
  }
  let magnitude = n.abs();
  // Where JavaScript switches to exponent notation; Rust's `{:e}` gives the same shortest digits.
  if magnitude >= 1e21 || (magnitude != 0.0 && magnitude < 1e-6) {
    let shown = format!("{n:e}");
    return match shown.split_once('e') {
      Some((digits, exponent)) if !exponent.starts_with('-') => format!("{digits}e+{exponent}"),
      _ => shown,
    };
  }
  n.to_string()
}

/// Binary data borrowed from JS: a Buffer, any TypedArray, a DataView or an ArrayBuffer.
///
/// It is a raw pointer, not a slice, because the JS memory may be the block itself (a view of
/// it), which Rust writes through another pointer.
#[derive(Clone, Copy)]
pub struct JsBytes {
  pub ptr: *const u8,
  pub len: usize,
}

/// The bytes of `value` if it is binary data, `None` for any other value.
///
/// The pointer stays valid while the JS value is alive and not detached or resized, which holds
/// for the rest of the current native call: no JS runs in between.
pub fn bytes(value: &Unknown) -> ShmResult<Option<JsBytes>> {
  let (env, raw) = (value.value().env, value.raw());
  let mut data: *mut c_void = ptr::null_mut();
  let mut length = 0usize;
  let mut is = false;
  // SAFETY: `env` and `raw` are the live environment and argument of the current call, and `is`
  // is the `bool` napi writes.
  check(unsafe { sys::napi_is_typedarray(env, raw, &mut is) })?;
  if is {
    let mut kind = 0;
    // SAFETY: `raw` is a live typed array of the current call; the out-pointers point at locals
    // of the types napi documents, and the unused ones are null, which napi allows.
    check(unsafe {
      sys::napi_get_typedarray_info(
        env,
        raw,
        &mut kind,
        &mut length,
        &mut data,
        ptr::null_mut(),
        ptr::null_mut(),
      )
    })?;
    // Element sizes of napi_typedarray_type; 11 is Float16Array (Node 24).
    let element = match kind {
      0..=2 => 1,
      3 | 4 | 11 => 2,
      5..=7 => 4,
      8..=10 => 8,
      _ => return Ok(None),
    };
    return Ok(Some(JsBytes::new(data, length * element)));
  }
  let mut is = false;
  // SAFETY: `env` and `raw` are the live environment and argument of the current call, and `is`
  // is the `bool` napi writes.
  check(unsafe { sys::napi_is_dataview(env, raw, &mut is) })?;
  if is {
    // SAFETY: `raw` is a live DataView of the current call; as above for the out-pointers.
    check(unsafe {
      sys::napi_get_dataview_info(
        env,
        raw,
        &mut length,
        &mut data,
        ptr::null_mut(),
        ptr::null_mut(),
      )
    })?;
    return Ok(Some(JsBytes::new(data, length)));
  }
  let mut is = false;
  // SAFETY: `env` and `raw` are the live environment and argument of the current call, and `is`
  // is the `bool` napi writes.
  check(unsafe { sys::napi_is_arraybuffer(env, raw, &mut is) })?;
  if is {
    // SAFETY: `raw` is a live ArrayBuffer of the current call; as above for the out-pointers.
    check(unsafe { sys::napi_get_arraybuffer_info(env, raw, &mut data, &mut length) })?;
    return Ok(Some(JsBytes::new(data, length)));
  }
  Ok(None)
}

impl JsBytes {
  fn new(data: *mut c_void, len: usize) -> JsBytes {
    // A detached or empty buffer may report a null pointer; keep it valid for a 0-byte copy.
    let ptr = if data.is_null() {
      ptr::NonNull::<u8>::dangling().as_ptr()
    } else {
      data.cast::<u8>()
    };
    JsBytes {
      ptr,
      len: if data.is_null() { 0 } else { len },
    }
  }
}

/// Whether V8 is terminating this thread's JavaScript (`worker.terminate()`): a call into JS
/// fails then. The call is to a function that does nothing.
pub fn is_terminating(env: &Env) -> bool {
  unsafe extern "C" fn nothing(
    _env: sys::napi_env,
    _info: sys::napi_callback_info,
  ) -> sys::napi_value {
    ptr::null_mut()
  }
  let mut scope = ptr::null_mut();
  let mut function = ptr::null_mut();
  let mut global = ptr::null_mut();
  let mut result = ptr::null_mut();
  // SAFETY: `env` is the live environment of the current call, on its JS thread; the out-pointers
  // point at locals of the types napi documents; `nothing` touches none of its arguments. The
  // handle scope is opened and closed here, so that a wait that asks every slice for hours does not
  // pile up handles in its call's scope.
  unsafe {
    if sys::napi_open_handle_scope(env.raw(), &mut scope) != sys::Status::napi_ok {
      return true;
    }
    let failed = sys::napi_create_function(
      env.raw(),
      c"terminating".as_ptr(),
      11,
      Some(nothing),
      ptr::null_mut(),
      &mut function,
    ) != sys::Status::napi_ok
      || sys::napi_get_global(env.raw(), &mut global) != sys::Status::napi_ok
      || sys::napi_call_function(env.raw(), global, function, 0, ptr::null(), &mut result)
        != sys::Status::napi_ok;
    sys::napi_close_handle_scope(env.raw(), scope);
    failed
  }
}

pub fn check(status: sys::napi_status) -> ShmResult<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(napi::Error::from_status(Status::from(status)).into())
  }
}
