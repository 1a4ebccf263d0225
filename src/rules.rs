//! Pure rules with no OS or Node-API in them: byte ranges, where text ends, and the number
//! coercion of `Atomics.wait`. Kept apart so that the fuzz targets in `fuzz/` compile this file
//! on its own.

use std::ops::Range;

/// `offset..offset + len` if it lies within a block of `size` bytes.
pub fn range(offset: usize, len: usize, size: usize) -> Option<Range<usize>> {
  let end = offset.checked_add(len)?;
  (end <= size).then_some(offset..end)
}

/// The length of the text at the start of `bytes`: up to the first NUL, or all of it.
pub fn text_len(bytes: &[u8]) -> usize {
  memchr::memchr(0, bytes).unwrap_or(bytes.len())
}

/// ECMAScript `ToInt32`, as `Atomics.wait` applies it to `expected` on an `Int32Array`.
pub fn to_int32(n: f64) -> i32 {
  if !n.is_finite() {
    return 0;
  }
  let modulo = n.trunc().rem_euclid(4_294_967_296.0);
  modulo as u32 as i32
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn ranges_stay_inside_the_block() {
    assert_eq!(range(0, 4, 4), Some(0..4));
    assert_eq!(range(4, 0, 4), Some(4..4));
    assert_eq!(range(3, 2, 4), None);
    assert_eq!(range(5, 0, 4), None);
    assert_eq!(range(usize::MAX, 2, 4), None);
  }

  #[test]
  fn text_ends_at_the_first_nul_or_the_end() {
    assert_eq!(text_len(b"abc\0def"), 3);
    assert_eq!(text_len(b"abc"), 3);
    assert_eq!(text_len(b"\0"), 0);
    assert_eq!(text_len(b""), 0);
  }

  #[test]
  fn to_int32_follows_ecmascript() {
    assert_eq!(to_int32(0.0), 0);
    assert_eq!(to_int32(-0.0), 0);
    assert_eq!(to_int32(1.9), 1);
    assert_eq!(to_int32(-1.9), -1);
    assert_eq!(to_int32(f64::NAN), 0);
    assert_eq!(to_int32(f64::INFINITY), 0);
    assert_eq!(to_int32(2_147_483_648.0), i32::MIN);
    assert_eq!(to_int32(4_294_967_295.0), -1);
    assert_eq!(to_int32(4_294_967_296.0 + 5.0), 5);
    assert_eq!(to_int32(-4_294_967_297.0), -1);
  }
}
