//! A shared-memory block as this process sees it: the mapped segment, its size, copies in and
//! out, and removal of the name when the creating side is done with it.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::os::{Access, Segment};
use crate::rules::{range, text_len};

/// How long an attach waits for a block that another process is still creating (its size is 0
/// until its pages are allocated), when nothing says that a creator is at work.
const CREATION_WAIT: Duration = Duration::from_secs(1);

/// How long an attach waits at most for a block whose creator is alive and still reserving its
/// pages (tens of GiB take seconds).
const CREATION_WAIT_LIMIT: Duration = Duration::from_secs(60);

/// One block, owned by one `SharedMemory` object.
///
/// The segment is behind an `Arc` so that anything else that must keep the memory mapped (a JS
/// view of it) can hold it too; the memory is unmapped when the last holder lets go.
#[derive(Debug)]
pub struct Block {
  segment: Arc<Segment>,
  os_name: String,
  size: usize,
  access: Access,
  /// The creating side removes the name when it is done (`close()`, garbage collection as in
  /// 1.x, or the process's exit), unless `unlink()` did already.
  unlink_on_drop: bool,
}

impl Block {
  /// Creates the block `os_name` exclusively with `size` bytes and permission bits `mode`. With
  /// `reclaim`, a block of that name whose creator died (see `Segment::reclaim_if_stale`) is
  /// removed first.
  pub fn create(os_name: &str, size: usize, mode: u32, reclaim: bool) -> io::Result<Block> {
    let segment = match Segment::create(os_name, size, mode) {
      Err(e) if e.kind() == io::ErrorKind::AlreadyExists && reclaim => {
        if !Segment::reclaim_if_stale(os_name)? {
          return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "its creator is alive, or another program or user made it: it was left alone",
          ));
        }
        Segment::create(os_name, size, mode)?
      }
      made => made?,
    };
    let segment = Arc::new(segment);
    exit::remove_at_exit(os_name, &segment);
    Ok(Block {
      segment,
      os_name: os_name.to_owned(),
      size,
      access: Access::ReadWrite,
      unlink_on_drop: true,
    })
  }

  /// Attaches to the existing block `os_name`: `size` bytes of it, or all of it as the OS reports
  /// its size. A block of size 0 is one that another process is still creating: wait for it, a
  /// little for any block, as long as it takes for one whose creator is alive and still at work.
  /// With `own_only`, only a block this user owns alone is taken (see `Segment::open`).
  pub fn open(
    os_name: &str,
    access: Access,
    size: Option<usize>,
    own_only: bool,
  ) -> io::Result<Block> {
    Block::open_waiting(
      os_name,
      access,
      size,
      own_only,
      (CREATION_WAIT, CREATION_WAIT_LIMIT),
    )
  }

  /// [`Block::open`], waiting `patience` for an empty block, and up to `limit` while its creator
  /// is at work (shorter in tests).
  fn open_waiting(
    os_name: &str,
    access: Access,
    size: Option<usize>,
    own_only: bool,
    (patience, limit): (Duration, Duration),
  ) -> io::Result<Block> {
    let started = Instant::now();
    let segment = loop {
      let segment = Segment::open(os_name, access, size, own_only)?;
      let waited = started.elapsed();
      if segment.len() > 0 || waited > limit || (waited > patience && !segment.being_created()) {
        break segment;
      }
      std::thread::sleep(Duration::from_millis(1));
    };
    Ok(Block {
      size: segment.len(),
      segment: Arc::new(segment),
      os_name: os_name.to_owned(),
      access,
      unlink_on_drop: false,
    })
  }

  /// Creates the block, or attaches to it if it exists; says which. Two processes doing this at
  /// once end up with one creator and one attacher: creation is exclusive, and a block removed
  /// between the two steps is simply tried again.
  /// A block that is not this user's alone is never taken as this one (see `Segment::open`).
  pub fn create_or_open(
    os_name: &str,
    size: usize,
    mode: u32,
    access: Access,
    reclaim: bool,
  ) -> io::Result<(Block, bool)> {
    let mut attempts = 0;
    loop {
      match Block::create(os_name, size, mode, reclaim) {
        Ok(block) => return Ok((block, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
      }
      match Block::open(os_name, access, Some(size), true) {
        Ok(block) => return Ok((block, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 100 => attempts += 1,
        Err(e) => return Err(e),
      }
    }
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

  pub fn is_read_only(&self) -> bool {
    self.access == Access::ReadOnly
  }

  /// The mapping, for a view that must keep it alive.
  pub fn segment(&self) -> &Arc<Segment> {
    &self.segment
  }

  /// Removes the block's name now, if it still names this block, and no longer on drop.
  pub fn unlink(&mut self) -> io::Result<bool> {
    if std::mem::take(&mut self.unlink_on_drop) {
      exit::keep_at_exit(&self.segment);
    }
    self.segment.unlink_if_same(&self.os_name)
  }

  /// A host's part of letting go: removes the name, if it still names this block.
  fn give_up_name(&mut self) -> io::Result<()> {
    if !std::mem::take(&mut self.unlink_on_drop) {
      return Ok(());
    }
    exit::keep_at_exit(&self.segment);
    self.segment.unlink_if_same(&self.os_name).map(drop)
  }

  /// The 32-bit word at `offset`, to read and wait on atomically.
  ///
  /// # Panics
  /// If `offset` is not a multiple of 4 with the word inside the block: callers check first.
  pub fn word(&self, offset: usize) -> &AtomicU32 {
    assert!(
      range(offset, 4, self.size).is_some(),
      "a word inside the block"
    );
    self.segment.word(offset)
  }

  /// Lets go of the block now (`close()`): a host removes the name if it still names this block,
  /// and the pages leave this process while the addresses stay valid for views that JS still
  /// holds (see [`Segment::release`]).
  pub fn release(mut self) -> io::Result<()> {
    let unlinked = self.give_up_name();
    // Only this block holds the segment (no view was made, no waiter thread holds it): dropping
    // the block unmaps it now, with nothing left that could reach the addresses.
    let released = match Arc::strong_count(&self.segment) {
      1 => Ok(()),
      _ => self.segment.release(),
    };
    unlinked.and(released)
  }

  /// Copies `len` bytes from `src` to `offset` in the block.
  ///
  /// # Safety
  /// `src` must be valid for reads of `len` bytes. It may point into this block itself: the copy
  /// is a `memmove`.
  ///
  /// # Panics
  /// If the block is read-only or the range is outside it: callers check both first.
  pub unsafe fn write(&self, offset: usize, src: *const u8, len: usize) {
    let dst = self.writable_range(offset, len);
    // SAFETY: `dst` lies inside the writable mapping, which stays mapped while `self` holds the
    // segment; the caller guarantees `src` is readable for `len` bytes; `copy` allows the two to
    // overlap. Another process may write the same bytes at the same time: they are plain data,
    // and no Rust code relies on them.
    unsafe { std::ptr::copy(src, self.segment.as_ptr().add(dst.start), len) }
  }

  fn writable_range(&self, offset: usize, len: usize) -> Range<usize> {
    assert!(!self.is_read_only(), "write to a read-only block");
    range(offset, len, self.size).expect("range checked by the caller")
  }

  /// The length of the string at `offset`: up to the first NUL, at most `max` bytes.
  ///
  /// # Panics
  /// If the range is outside the block.
  pub fn strlen(&self, offset: usize, max: usize) -> usize {
    let span = range(offset, max, self.size).expect("range checked by the caller");
    // Other processes may change these bytes at any time, so they are never looked at through a
    // Rust reference: each piece is copied to private memory first, then searched.
    let mut piece = [0u8; 4096];
    let mut at = span.start;
    while at < span.end {
      let len = piece.len().min(span.end - at);
      // SAFETY: `piece` is writable for `len <= piece.len()` bytes; `at..at + len` lies inside
      // `span`, inside the block.
      unsafe { self.read(at, piece.as_mut_ptr(), len) };
      let found = text_len(&piece[..len]);
      if found < len {
        return at + found - span.start;
      }
      at += len;
    }
    span.len()
  }

  /// Copies the `len` bytes at `offset` to `dst`.
  ///
  /// # Safety
  /// `dst` must be valid for writes of `len` bytes; it may point into this block.
  ///
  /// # Panics
  /// If the range is outside the block.
  pub unsafe fn read(&self, offset: usize, dst: *mut u8, len: usize) {
    let src = range(offset, len, self.size).expect("range checked by the caller");
    // SAFETY: `src` lies inside the mapping, which stays mapped while `self` holds it; the caller
    // guarantees `dst` is writable for `len` bytes; `copy` allows the two to overlap.
    unsafe { std::ptr::copy(self.segment.as_ptr().add(src.start), dst, len) }
  }
}

impl Drop for Block {
  fn drop(&mut self) {
    // The name may already be gone, or name another block by now: both are left alone, and
    // there is no one to report an error to.
    let _ = self.give_up_name();
  }
}

/// The names this process's hosts still hold, removed when the process exits through `exit()`:
/// Node runs the finalizers of the main thread's objects at a normal end, but not on
/// `process.exit()` or an uncaught exception. (A worker's objects are finalized when the worker
/// ends, however it ends.)
mod exit {
  use super::*;

  type Hosts = HashMap<usize, (String, Weak<Segment>)>;

  static HOSTS: Mutex<Option<Hosts>> = Mutex::new(None);

  fn key(segment: &Arc<Segment>) -> usize {
    Arc::as_ptr(segment) as usize
  }

  /// Removes the name `os_name` of `segment` at exit, unless [`keep_at_exit`] comes first.
  pub fn remove_at_exit(os_name: &str, segment: &Arc<Segment>) {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
      crate::os::is_original_process();
      crate::os::at_exit(remove_all);
    });
    let mut hosts = HOSTS.lock().unwrap_or_else(PoisonError::into_inner);
    hosts
      .get_or_insert_with(HashMap::new)
      .insert(key(segment), (os_name.to_owned(), Arc::downgrade(segment)));
  }

  /// Takes `segment` off the list: its name was removed, or is no longer its host's to remove.
  pub fn keep_at_exit(segment: &Arc<Segment>) {
    let mut hosts = HOSTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(hosts) = hosts.as_mut() {
      hosts.remove(&key(segment));
    }
  }

  extern "C" fn remove_all() {
    if !crate::os::is_original_process() {
      return;
    }
    let hosts = HOSTS.lock().unwrap_or_else(PoisonError::into_inner).take();
    for (os_name, segment) in hosts.into_iter().flatten().map(|(_, host)| host) {
      if let Some(segment) = segment.upgrade() {
        // The process is ending: there is no one to report a failure to.
        let _ = segment.unlink_if_same(&os_name);
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::os;

  fn unique(tag: &str) -> String {
    let name = format!("shmtest-{tag}-{}", std::process::id());
    crate::name::os_name(&name, false, crate::name::Platform::CURRENT).unwrap()
  }

  fn write(block: &Block, offset: usize, bytes: &[u8]) {
    // SAFETY: `bytes` is readable for its length.
    unsafe { block.write(offset, bytes.as_ptr(), bytes.len()) }
  }

  fn read(block: &Block, offset: usize, len: usize) -> Vec<u8> {
    let mut out = vec![0xaa; len];
    // SAFETY: `out` is writable for `len` bytes.
    unsafe { block.read(offset, out.as_mut_ptr(), len) };
    out
  }

  #[test]
  fn a_created_block_is_zeroed_and_shared_with_an_attached_one() {
    let name = unique("share");
    let host = Block::create(&name, 100, 0o600, false).unwrap();
    let client = Block::open(&name, Access::ReadWrite, None, false).unwrap();
    assert!(client.size() >= 100);
    assert_eq!(read(&client, 0, 100), vec![0; 100]);
    write(&host, 10, b"hello");
    assert_eq!(read(&client, 10, 5), b"hello");
    assert_eq!(client.strlen(10, 90), 5);
    drop(host);
    // On Unix the host removes the name at once; a Windows name lives until its last handle
    // closes (the README says so), here the client's.
    if !cfg!(windows) {
      assert!(!os::exists(&name).unwrap(), "the host removes the name");
    }
    drop(client);
    assert!(!os::exists(&name).unwrap(), "no name is left");
  }

  #[test]
  fn creating_an_existing_block_fails_and_leaves_it_alone() {
    let name = unique("exists");
    let host = Block::create(&name, 10, 0o600, false).unwrap();
    let err = Block::create(&name, 10, 0o600, false).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(os::exists(&name).unwrap());
    drop(host);
  }

  #[test]
  fn attaching_to_a_missing_block_is_not_found() {
    let err = Block::open(&unique("missing"), Access::ReadWrite, None, false).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
  }

  #[test]
  fn create_or_open_creates_once_then_attaches() {
    let name = unique("either");
    let (first, created) =
      Block::create_or_open(&name, 64, 0o600, Access::ReadWrite, false).unwrap();
    assert!(created);
    let (second, created) =
      Block::create_or_open(&name, 64, 0o600, Access::ReadWrite, false).unwrap();
    assert!(!created);
    write(&second, 0, b"x");
    assert_eq!(read(&first, 0, 1), b"x");
  }

  #[test]
  fn create_or_open_tries_again_when_the_name_goes_between_its_two_steps() {
    // One thread creates and removes the block as fast as it can; the other creates or attaches.
    // When the name goes between the other's failed create and its open, the open finds nothing:
    // it must try again rather than fail.
    let name = unique("flicker");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flicker = {
      let (name, stop) = (name.clone(), Arc::clone(&stop));
      std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
          if let Ok(mut block) = Block::create(&name, 64, 0o600, false) {
            block.unlink().unwrap();
          }
        }
      })
    };
    let outcome = (0..20_000).try_for_each(|_| {
      let (mut block, created) = Block::create_or_open(&name, 64, 0o600, Access::ReadWrite, false)?;
      if created {
        block.unlink()?;
      }
      Ok::<_, io::Error>(())
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flicker.join().unwrap();
    let _ = os::unlink(&name);
    outcome.unwrap();
  }

  #[test]
  fn a_host_does_not_remove_a_newer_block_of_the_same_name() {
    let name = unique("reused");
    let mut old = Block::create(&name, 8, 0o600, false).unwrap();
    assert!(old.unlink().unwrap());
    let newer = Block::create(&name, 8, 0o600, false).unwrap();
    // `old` no longer unlinks on drop; a host that was dropped without unlinking must not remove
    // the newer block either.
    old.unlink_on_drop = true;
    drop(old);
    assert!(os::exists(&name).unwrap());
    drop(newer);
    assert!(!os::exists(&name).unwrap());
  }

  /// Unix only: Windows keeps the pages mapped until the segment is dropped (see `os::windows`).
  #[cfg(unix)]
  #[test]
  fn a_released_block_keeps_its_addresses_over_private_memory_and_gives_up_its_name() {
    let name = unique("release");
    let host = Block::create(&name, 4096, 0o600, false).unwrap();
    let client = Block::open(&name, Access::ReadWrite, None, false).unwrap();
    write(&host, 0, b"shared");
    let segment = Arc::clone(host.segment());
    host.release().unwrap();
    assert!(!os::exists(&name).unwrap(), "the host removed the name");
    // SAFETY: the segment still owns its 4096 addresses (private memory now).
    let old = unsafe { std::slice::from_raw_parts_mut(segment.as_ptr(), 4) };
    assert_eq!(old, [0; 4], "the released range shows private zeros");
    old.copy_from_slice(b"priv");
    assert_eq!(
      read(&client, 0, 6),
      b"shared",
      "writes to it reach nothing shared"
    );
    // Idempotent: releasing again leaves the private memory, and what was written to it, alone.
    segment.release().unwrap();
    // SAFETY: as above; the range is still the segment's.
    let old = unsafe { std::slice::from_raw_parts(segment.as_ptr(), 4) };
    assert_eq!(old, b"priv", "a second release changed nothing");
  }

  /// A creator that takes longer than `CREATION_WAIT` to reserve its pages (tens of GiB) is
  /// waited for while its liveness lock says it is at work.
  #[cfg(any(target_os = "linux", target_os = "android"))]
  #[test]
  fn an_attach_waits_for_a_live_creator_that_is_still_reserving_pages() {
    use rustix::fs::{fchmod, flock, ftruncate, FlockOperation, Mode};
    let name = unique("slow-create");
    let flags = rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR;
    let fd = rustix::shm::open(name.as_str(), flags, Mode::from_raw_mode(0o600)).unwrap();
    flock(&fd, FlockOperation::NonBlockingLockExclusive).unwrap();
    fchmod(&fd, Mode::from_raw_mode(0o1600)).unwrap();
    let creator = std::thread::spawn(move || {
      std::thread::sleep(CREATION_WAIT + Duration::from_millis(500));
      ftruncate(&fd, 4096).unwrap();
      fd
    });
    let started = Instant::now();
    let block = Block::open(&name, Access::ReadWrite, Some(4096), false).unwrap();
    assert_eq!(block.size(), 4096, "waited {:?}", started.elapsed());
    drop(creator.join().unwrap());
    rustix::shm::unlink(name.as_str()).unwrap();
  }

  /// An empty object at the name: attached after `patience` when nobody is creating it (another
  /// program made it, or its creator died), after `limit` at most while a live creator stays at
  /// 0 bytes.
  #[cfg(any(target_os = "linux", target_os = "android"))]
  #[test]
  fn an_attach_to_an_empty_block_waits_for_its_creator_only_while_it_lives_and_not_forever() {
    use rustix::fs::{fchmod, flock, FlockOperation, Mode};
    let waits = (Duration::from_millis(100), Duration::from_millis(600));
    let name = unique("empty");
    let flags = rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR;
    let fd = rustix::shm::open(name.as_str(), flags, Mode::from_raw_mode(0o600)).unwrap();
    let started = Instant::now();
    let block = Block::open_waiting(&name, Access::ReadWrite, None, false, waits).unwrap();
    let waited = started.elapsed();
    assert_eq!(block.size(), 0);
    assert!(
      waited >= waits.0 && waited < waits.1,
      "nobody creates it: {waited:?}"
    );
    // Now a live creator holds it, marked as ours, and never gives it a size.
    flock(&fd, FlockOperation::NonBlockingLockExclusive).unwrap();
    fchmod(&fd, Mode::from_raw_mode(0o1600)).unwrap();
    let started = Instant::now();
    let block = Block::open_waiting(&name, Access::ReadWrite, None, false, waits).unwrap();
    let waited = started.elapsed();
    assert_eq!(block.size(), 0);
    assert!(
      waited >= waits.1 && waited < waits.1 * 5,
      "a live creator: {waited:?}"
    );
    rustix::shm::unlink(name.as_str()).unwrap();
  }

  #[cfg(any(target_os = "linux", target_os = "android"))]
  #[test]
  fn create_or_open_reports_a_failed_create_as_it_failed() {
    // More than /dev/shm can hold: the create fails with its own error, which must not turn into
    // an attach to a block that is not there.
    let name = unique("too-big");
    let created = Block::create(&name, 1 << 50, 0o600, false)
      .map(drop)
      .unwrap_err();
    let both = Block::create_or_open(&name, 1 << 50, 0o600, Access::ReadWrite, false)
      .map(drop)
      .unwrap_err();
    assert_ne!(created.kind(), io::ErrorKind::NotFound);
    assert_eq!(both.kind(), created.kind(), "{both}");
    assert!(!os::exists(&name).unwrap(), "nothing left behind");
  }

  #[test]
  fn copies_may_overlap_the_block_itself() {
    let name = unique("overlap");
    let block = Block::create(&name, 16, 0o600, false).unwrap();
    write(&block, 0, b"abcdefgh");
    let src = block.segment().as_ptr();
    // SAFETY: `src` is the start of the block, readable for its 16 bytes.
    unsafe { block.write(4, src, 8) };
    assert_eq!(read(&block, 0, 12), b"abcdabcdefgh");
  }
}
