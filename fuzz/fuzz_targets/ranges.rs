//! Range checks: any offset, length and block size. A range the check accepts lies inside the
//! block and has the asked length; overflow never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_memory_node_fuzz::rules::range;

fuzz_target!(|input: (usize, usize, usize)| {
  let (offset, len, size) = input;
  match range(offset, len, size) {
    Some(r) => {
      assert_eq!(r.start, offset);
      assert_eq!(r.len(), len);
      assert!(r.end <= size);
    }
    None => assert!(offset.checked_add(len).is_none_or(|end| end > size)),
  }
});
