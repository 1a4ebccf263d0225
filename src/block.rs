//! A shared-memory block as this process sees it: the mapped segment, its size, bounds-checked
//! copies in and out, and removal of the name when the creating side is done with it.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use crate::os::{self, Access, Segment};

/// One block, owned by one `SharedMemory` object.
///
/// The segment is behind an `Arc` so that anything else that must keep the memory mapped (a JS
/// view of it) can hold it too; the memory is unmapped when the last holder lets go.
#[derive(Debug)]
pub struct Block {
  segment: Arc<Segment>,
  os_name: String,
  size: usize,
  /// The creating side removes the name when it is done, as 1.x did on garbage collection.
  unlink_on_drop: bool,
}

impl Block {
  /// Creates the block `os_name` exclusively with `size` bytes.
  pub fn create(os_name: &str, size: usize, mode: u32) -> io::Result<Block> {
    let segment = Segment::create(os_name, size, mode)?;
    Ok(Block {
      segment: Arc::new(segment),
      os_name: os_name.to_owned(),
      size,
      unlink_on_drop: true,
    })
  }

  /// Attaches to the existing block `os_name`, all of it as the OS reports its size.
  pub fn open(os_name: &str, access: Access) -> io::Result<Block> {
    let segment = Segment::open(os_name, access)?;
    Ok(Block {
      size: segment.len(),
      segment: Arc::new(segment),
      os_name: os_name.to_owned(),
      unlink_on_drop: false,
    })
  }

  /// Uses only the first `size` bytes of the block (the size asked for when attaching).
  /// `size` must not exceed the current size.
  pub fn truncate(&mut self, size: usize) {
    assert!(size <= self.size, "a block cannot grow");
    self.size = size;
  }

  pub fn size(&self) -> usize {
    self.size
  }

  pub fn os_name(&self) -> &str {
    &self.os_name
  }

  /// Copies `len` bytes from `src` to `offset` in the block. The caller checks the range first
  /// (see [`range`]).
  ///
  /// # Safety
  /// `src` must be valid for reads of `len` bytes. It may point into this block itself: the copy
  /// is a `memmove`.
  pub unsafe fn write(&self, offset: usize, src: *const u8, len: usize) {
    let range = range(offset, len, self.size).expect("range checked by the caller");
    // SAFETY: `range` lies inside the mapping (`size <= segment.len()`), which stays mapped while
    // `self` holds the segment; the caller guarantees `src` is readable for `len` bytes; `copy`
    // allows the two to overlap. The mapping is shared, so another process may write the same
    // bytes at the same time: the bytes are plain data, and no Rust code relies on them.
    unsafe { std::ptr::copy(src, self.segment.as_ptr().add(range.start), len) }
  }

  /// The address of byte `offset`, for callers that write in place (string encoding). The caller
  /// checks the range first and writes only inside it.
  pub fn ptr_at(&self, offset: usize) -> *mut u8 {
    assert!(offset <= self.size, "offset checked by the caller");
    // SAFETY: `offset <= size <= segment.len()`: the result is inside the mapping or one past it.
    unsafe { self.segment.as_ptr().add(offset) }
  }

  /// The length of the string at `offset`: up to the first NUL, at most `max` bytes.
  pub fn strlen(&self, offset: usize, max: usize) -> usize {
    let range = range(offset, max, self.size).expect("range checked by the caller");
    if range.is_empty() {
      return 0;
    }
    // SAFETY: `range` lies inside the mapping, which stays mapped while `self` holds it. Another
    // process may change these bytes during the search: every byte value is a valid `u8`, the
    // slice lives only for this search, and the result is only used as a length within `range`.
    let bytes = unsafe { std::slice::from_raw_parts(self.ptr_at(range.start), range.len()) };
    memchr::memchr(0, bytes).unwrap_or(range.len())
  }

  /// Copies the bytes at `offset..offset + dst.len()` into `dst`. The caller checks the range.
  pub fn read(&self, offset: usize, dst: &mut [u8]) {
    let range = range(offset, dst.len(), self.size).expect("range checked by the caller");
    // SAFETY: `range` lies inside the mapping, which stays mapped while `self` holds it; `dst` is
    // private memory of the right length and cannot overlap a mapping we own.
    unsafe { std::ptr::copy_nonoverlapping(self.ptr_at(range.start), dst.as_mut_ptr(), dst.len()) }
  }
}

impl Drop for Block {
  fn drop(&mut self) {
    if self.unlink_on_drop {
      // The name may already be gone (removed by another process); that is the state we want.
      let _ = os::unlink(&self.os_name);
    }
  }
}

/// `offset..offset + len` if it lies within a block of `size` bytes.
pub fn range(offset: usize, len: usize, size: usize) -> Option<Range<usize>> {
  let end = offset.checked_add(len)?;
  (end <= size).then_some(offset..end)
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

  fn unique(tag: &str) -> String {
    let name = format!("shmtest-{tag}-{}", std::process::id());
    crate::name::os_name(&name, false, crate::name::Platform::CURRENT).unwrap()
  }

  #[test]
  fn a_created_block_is_zeroed_and_shared_with_an_attached_one() {
    let name = unique("share");
    let host = Block::create(&name, 100, 0o600).unwrap();
    let client = Block::open(&name, Access::ReadWrite).unwrap();
    assert!(client.size() >= 100);
    let mut buf = [1u8; 100];
    client.read(0, &mut buf);
    assert_eq!(buf, [0u8; 100]);
    let msg = b"hello";
    // SAFETY: `msg` is readable for its length.
    unsafe { host.write(10, msg.as_ptr(), msg.len()) };
    let mut out = [0u8; 5];
    client.read(10, &mut out);
    assert_eq!(&out, msg);
    assert_eq!(client.strlen(10, 90), 5);
    drop(host);
    assert!(!os::exists(&name).unwrap(), "the host removes the name");
  }

  #[test]
  fn creating_an_existing_block_fails_and_leaves_it_alone() {
    let name = unique("exists");
    let host = Block::create(&name, 10, 0o600).unwrap();
    let err = Block::create(&name, 10, 0o600).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(os::exists(&name).unwrap());
    drop(host);
  }

  #[test]
  fn attaching_to_a_missing_block_is_not_found() {
    let err = Block::open(&unique("missing"), Access::ReadWrite).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
  }
}
