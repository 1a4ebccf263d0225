//! What the POSIX layer (`unix.rs`) does the Linux way: a shm name is a file in `/dev/shm`, a
//! page can be mapped a second time with `mremap`, and `/proc` tells the address space in use.
//! The other Unix systems' answers are in `unix_other.rs`.

use std::ffi::c_void;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use rustix::mm::{munmap, MapFlags};
use rustix::shm;

use super::super::{futex, FutexWait};
use super::{identity_of, Segment};

/// The identity of the object the name `os_name` names now, if any. The object is a file in
/// `/dev/shm`, stat'ed by path, so that a process out of descriptors can still tell.
pub(super) fn identity_of_name(os_name: &str) -> io::Result<Option<(u64, u64)>> {
  let path = format!("/dev/shm{os_name}");
  match rustix::fs::lstat(path.as_str()) {
    Ok(stat) => Ok(Some(identity_of(&stat))),
    Err(rustix::io::Errno::NOENT) => Ok(None),
    Err(e) => Err(e.into()),
  }
}

/// `/dev/shm` is a directory anyone may write to. glibc's `shm_open` refuses to follow a symlink
/// planted there (it could point anywhere, such as a file only we may write); rustix opens the
/// file itself, so ask for the same. `O_NONBLOCK` keeps a FIFO planted there from blocking the
/// open (it changes nothing for a regular file); `regular` then refuses it.
pub(super) fn open_flags() -> shm::OFlags {
  shm::OFlags::from_bits_retain(
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits(),
  )
}

/// The private memory that takes a released segment's place is never meant to be used: it
/// reserves no swap or commit charge, so releasing a large block cannot fail for lack of it.
pub(super) fn no_reserve() -> MapFlags {
  MapFlags::NORESERVE
}

/// The address space this process uses now, in bytes (`/proc/self/statm`).
pub(super) fn address_space_used() -> Option<u64> {
  let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
  let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
  Some(pages * rustix::param::page_size() as u64)
}

/// Pages mapped again by [`PageAgain`], at most [`MAX_PAGES_MAPPED_AGAIN`] at a time: each is a
/// mapping of its own, and Linux allows a process about 65,000 (`vm.max_map_count`), which V8
/// needs too. A wait beyond the cap watches the word in the block's own mapping; only the hand-on
/// of a wake-up that reaches it after `close()` is then lost.
static PAGES_MAPPED_AGAIN: AtomicUsize = AtomicUsize::new(0);
const MAX_PAGES_MAPPED_AGAIN: usize = 4096;

/// A second mapping of the page of a segment that holds a waited word: `mremap` with an old size
/// of 0 maps the same shared page again, which stays mapped when the segment is released.
pub(super) struct PageAgain {
  page: NonNull<c_void>,
  page_size: usize,
}

// SAFETY: the page mapping belongs to this value alone and is unmapped only by its `Drop`; it is
// reached only through `&AtomicU32` (atomics), and `munmap` may be called from any thread.
unsafe impl Send for PageAgain {}
// SAFETY: see `Send`.
unsafe impl Sync for PageAgain {}

impl PageAgain {
  /// The page of `segment` that holds byte `offset` (inside it), mapped again; `None` past the
  /// cap, or when the kernel refuses (a released segment's range is private memory, which
  /// `mremap` does not map again).
  pub(super) fn of(segment: &Segment, offset: usize) -> Option<PageAgain> {
    if PAGES_MAPPED_AGAIN.fetch_add(1, Ordering::Relaxed) >= MAX_PAGES_MAPPED_AGAIN {
      PAGES_MAPPED_AGAIN.fetch_sub(1, Ordering::Relaxed);
      return None;
    }
    let page_size = rustix::param::page_size();
    let start = offset - offset % page_size;
    // SAFETY: `start` is page-aligned and inside the segment's range (the offset is), which stays
    // mapped while `segment` is borrowed; with an old size of 0, `mremap` leaves that mapping
    // alone and maps the same page again at a new address that the kernel chooses (MAY_MOVE),
    // overlapping nothing Rust knows about.
    let again = unsafe {
      rustix::mm::mremap(
        segment.as_ptr().add(start).cast(),
        0,
        page_size,
        rustix::mm::MremapFlags::MAYMOVE,
      )
    };
    match again.ok().and_then(NonNull::new) {
      Some(page) => Some(PageAgain { page, page_size }),
      None => {
        PAGES_MAPPED_AGAIN.fetch_sub(1, Ordering::Relaxed);
        None
      }
    }
  }

  /// The word at `offset` of the segment, a multiple of 4 on this page.
  pub(super) fn word(&self, offset: usize) -> &AtomicU32 {
    // SAFETY: the page is mapped for `page_size` bytes until `Drop`, the word lies inside it at
    // its offset within the page, 4-aligned (offset is a multiple of 4), and shared memory is
    // read only atomically.
    unsafe {
      &*self
        .page
        .as_ptr()
        .cast::<u8>()
        .add(offset % self.page_size)
        .cast::<AtomicU32>()
    }
  }
}

impl Drop for PageAgain {
  fn drop(&mut self) {
    PAGES_MAPPED_AGAIN.fetch_sub(1, Ordering::Relaxed);
    // SAFETY: exactly the page `mremap` mapped, unmapped once (`Drop` runs once); no reference
    // into it outlives `self`. An error would mean an invalid range, which this is not.
    let _ = unsafe { munmap(self.page.as_ptr(), self.page_size) };
  }
}

/// One sleep of a waiter thread on `word` (see [`super::wait_on`]), which [`interrupt`] of
/// `interrupt` ends at once where the kernel has `futex_waitv`, and otherwise the slice's end.
pub(super) fn sleep(
  word: &AtomicU32,
  expected: u32,
  interrupt: &AtomicU32,
  slice: Duration,
) -> io::Result<FutexWait> {
  futex::wait_either(word, expected, interrupt, slice)
    .unwrap_or_else(|| futex::wait(word, expected, slice))
}

/// Sets `interrupt` and ends the sleeps that watch it (see [`sleep`]).
pub(super) fn interrupt(interrupt: &AtomicU32) {
  interrupt.store(1, Ordering::SeqCst);
  futex::wake_private(interrupt);
}

/// Whether [`interrupt`] ends a waiter thread's sleep at once, so that `close()` may wait for
/// its waiters to let go of their pages ([`PageAgain`]).
pub(super) fn interrupts_end_sleeps() -> bool {
  futex::has_waitv()
}

#[cfg(test)]
mod tests {
  use super::address_space_used;
  use rustix::mm::{mmap_anonymous, munmap, MapFlags, ProtFlags};

  #[test]
  fn address_space_used_counts_every_byte_mapped() {
    const RESERVED: usize = 256 << 20;
    let before = address_space_used().expect("/proc/self/statm is readable");
    // A test binary maps its code, libraries and stacks: megabytes, counted in bytes.
    assert!(before > 1 << 20, "{before} bytes in use");
    // SAFETY: a fresh, inaccessible private mapping chosen by the kernel (null hint), which
    // overlaps nothing and is only unmapped below; nothing reads or writes it.
    let reserved = unsafe {
      mmap_anonymous(
        std::ptr::null_mut(),
        RESERVED,
        ProtFlags::empty(),
        MapFlags::PRIVATE | MapFlags::NORESERVE,
      )
    }
    .expect("256 MiB of address space");
    let after = address_space_used().expect("/proc/self/statm is readable");
    // SAFETY: exactly the mapping made above, unmapped once.
    unsafe { munmap(reserved, RESERVED) }.expect("munmap");
    // Other test threads may map or unmap a little meanwhile, never a hundred megabytes.
    assert!(
      after >= before + RESERVED as u64 / 2,
      "{before} bytes in use, then {after} with {RESERVED} more mapped"
    );
  }
}
