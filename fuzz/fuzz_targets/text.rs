//! Reading text: any bytes. The text ends at the first NUL or the end, never past it, and decodes
//! (lossily) without panicking; `expected` is coerced by ToInt32 exactly as ECMAScript says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_memory_node_fuzz::rules::{text_len, to_int32};

fuzz_target!(|input: (Vec<u8>, f64)| {
  let (bytes, number) = input;
  let len = text_len(&bytes);
  assert!(len <= bytes.len());
  assert!(!bytes[..len].contains(&0));
  if len < bytes.len() {
    assert_eq!(bytes[len], 0);
  }
  let text = String::from_utf8_lossy(&bytes[..len]);
  assert!(!text.contains('\0'));

  let int = to_int32(number);
  if number.is_finite() && number.abs() < 9.0e15 {
    // Exact in i64 below 2^53: truncate, then wrap to 32 bits.
    assert_eq!(int, number.trunc() as i64 as i32);
  } else if !number.is_finite() {
    assert_eq!(int, 0);
  }
});
