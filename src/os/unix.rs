//! POSIX shared memory: `shm_open` + `ftruncate` + `mmap(MAP_SHARED)`, through `rustix`.

use std::ffi::c_void;
use std::io;
use std::ptr::{self, NonNull};

use rustix::fd::OwnedFd;
use rustix::fs::{fchmod, fstat, ftruncate, Mode};
use rustix::mm::{mmap, mmap_anonymous, munmap, MapFlags, ProtFlags};
use rustix::shm;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{futex, next_slice, settled_before_sleep, Access, FutexWait, WaitOutcome};

/// A POSIX shared-memory object mapped with `MAP_SHARED`.
#[derive(Debug)]
pub struct Segment {
  ptr: NonNull<c_void>,
  len: usize,
  /// The object's device and inode, to tell it from a later object of the same name.
  identity: (u64, u64),
  /// The mapping's protection, which the private memory of [`Segment::release`] gets too.
  prot: ProtFlags,
  /// Set by [`Segment::release`]: the range holds private memory now, not the object.
  released: AtomicBool,
}

// SAFETY: `Segment` owns a `MAP_SHARED` mapping that is only unmapped by its own `Drop`; the
// pointer is never exposed as a Rust reference with aliasing guarantees, and `munmap` may be
// called from any thread.
unsafe impl Send for Segment {}
// SAFETY: see `Send`: `&Segment` only gives out the address and length.
unsafe impl Sync for Segment {}

impl Segment {
  /// Creates the object `os_name` exclusively with `len` bytes and permission bits `mode`, and
  /// maps it read-write. The pages are reserved up front where the OS allows it, so that a full
  /// `/dev/shm` is an error here instead of a SIGBUS on first write. On failure nothing is left
  /// behind.
  pub fn create(os_name: &str, len: usize, mode: u32) -> io::Result<Segment> {
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR | no_follow();
    let fd = shm::open(os_name, flags, Mode::from_raw_mode(mode as _))?;
    let made = (|| {
      // `shm_open` applies the umask; `fchmod` sets exactly the bits asked for.
      fchmod(&fd, Mode::from_raw_mode(mode as _))?;
      let size = u64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
      set_size(&fd, size)?;
      Segment::map(&fd, len, Access::ReadWrite)
    })();
    if made.is_err() {
      // The create failed part-way: remove the object we made. An error here cannot be reported
      // better than the first one, which the caller gets.
      let _ = shm::unlink(os_name);
    }
    made
  }

  /// Attaches to the existing object `os_name` and maps all of it, as `fstat` reports its size.
  pub fn open(os_name: &str, access: Access) -> io::Result<Segment> {
    let flags = no_follow()
      | match access {
        Access::ReadWrite => shm::OFlags::RDWR,
        Access::ReadOnly => shm::OFlags::RDONLY,
      };
    let fd = shm::open(os_name, flags, Mode::empty())?;
    let size = fstat(&fd)?.st_size;
    let len = usize::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
    Segment::map(&fd, len, access)
  }

  fn map(fd: &OwnedFd, len: usize, access: Access) -> io::Result<Segment> {
    let identity = identity(fd)?;
    if len == 0 {
      // mmap(2) refuses a zero length; an empty object maps to an empty segment.
      return Ok(Segment {
        ptr: NonNull::dangling(),
        len: 0,
        identity,
        prot: ProtFlags::empty(),
        released: AtomicBool::new(false),
      });
    }
    let prot = match access {
      Access::ReadWrite => ProtFlags::READ | ProtFlags::WRITE,
      Access::ReadOnly => ProtFlags::READ,
    };
    // SAFETY: a fresh mapping chosen by the kernel (null hint, no MAP_FIXED) cannot overlap any
    // memory Rust knows about. `fd` is open for the duration of the call; the mapping stays valid
    // after `fd` is closed, as POSIX specifies for mmap.
    let ptr = unsafe { mmap(ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }?;
    let ptr = NonNull::new(ptr).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
    Ok(Segment {
      ptr,
      len,
      identity,
      prot,
      released: AtomicBool::new(false),
    })
  }

  /// The first byte of the mapping (dangling when the length is 0).
  pub fn as_ptr(&self) -> *mut u8 {
    self.ptr.as_ptr().cast()
  }

  /// The mapped length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }

  /// While the word at `offset` equals `expected`, sleeps until a [`Segment::wake`] on it (from
  /// any process), the `deadline`, or `cancel` is set (noticed within [`WAIT_SLICE`]).
  pub fn wait(
    &self,
    offset: usize,
    expected: u32,
    deadline: Option<Instant>,
    cancel: &AtomicBool,
  ) -> io::Result<WaitOutcome> {
    let word = self.word(offset);
    if let Some(outcome) = settled_before_sleep(word, expected, deadline) {
      return Ok(outcome);
    }
    loop {
      if cancel.load(Ordering::Acquire) {
        return Ok(WaitOutcome::Cancelled);
      }
      let Some(slice) = next_slice(deadline) else {
        return Ok(WaitOutcome::TimedOut);
      };
      match futex::wait(word, expected, slice)? {
        FutexWait::Woken if cancel.load(Ordering::Acquire) => {
          // A notify woke a waiter that no one waits for any more: hand the wake-up on, so
          // that it reaches a waiter that still counts.
          futex::wake(word, 1)?;
          return Ok(WaitOutcome::Cancelled);
        }
        // Woken, or the value checked above changed since: a notify is on its way, or the writer
        // sends none; either way the wait is over.
        FutexWait::Woken | FutexWait::Changed => return Ok(WaitOutcome::Ok),
        FutexWait::TimedOut | FutexWait::Interrupted => {}
      }
    }
  }

  /// Wakes up to `count` waiters (`u32::MAX`: all) on the word at `offset`, in every process;
  /// returns how many woke where the OS says so.
  pub fn wake(&self, offset: usize, count: u32) -> io::Result<usize> {
    futex::wake(self.word(offset), count)
  }

  /// Lets go of the object now, while the addresses stay valid: private, zero-filled memory takes
  /// the place of the shared mapping (`mmap` with `MAP_FIXED` swaps them in one step), so the
  /// object's pages leave this process at once, and whatever still reads or writes the range (a
  /// JS view, work on Node's thread pool) touches only that private memory, never unmapped
  /// addresses. The range itself is unmapped when the segment is dropped. Idempotent.
  pub fn release(&self) -> io::Result<()> {
    if self.len == 0 || self.released.swap(true, Ordering::AcqRel) {
      return Ok(());
    }
    // SAFETY: `ptr..ptr + len` is exactly the range this segment mapped and still owns (it is
    // unmapped only by `Drop`), so MAP_FIXED replaces only our own mapping, atomically: no other
    // mapping of this process is touched, and there is no moment at which the range is unmapped.
    // Rust holds no reference into the range that assumes its contents (see `Segment`'s `Sync`).
    let placed = unsafe {
      mmap_anonymous(
        self.ptr.as_ptr(),
        self.len,
        self.prot,
        MapFlags::PRIVATE | MapFlags::FIXED | no_reserve(),
      )
    };
    match placed {
      Ok(_) => Ok(()),
      Err(e) => {
        // Nothing was replaced: the shared mapping stays until `Drop`, safe to use meanwhile.
        self.released.store(false, Ordering::Release);
        Err(e.into())
      }
    }
  }

  /// Removes the name `os_name` if it still names this object; returns whether it did. A name
  /// that was removed and taken by a new object meanwhile is left alone.
  pub fn unlink_if_same(&self, os_name: &str) -> io::Result<bool> {
    let fd = match shm::open(os_name, shm::OFlags::RDONLY | no_follow(), Mode::empty()) {
      Ok(fd) => fd,
      Err(rustix::io::Errno::NOENT) => return Ok(false),
      Err(e) => return Err(e.into()),
    };
    if identity(&fd)? != self.identity {
      return Ok(false);
    }
    match shm::unlink(os_name) {
      Ok(()) => Ok(true),
      Err(rustix::io::Errno::NOENT) => Ok(false),
      Err(e) => Err(e.into()),
    }
  }
}

fn identity(fd: &OwnedFd) -> io::Result<(u64, u64)> {
  let stat = fstat(fd)?;
  #[allow(
    clippy::useless_conversion,
    reason = "the field types differ between platforms"
  )]
  Ok((u64::from(stat.st_dev as u64), u64::from(stat.st_ino)))
}

impl Drop for Segment {
  fn drop(&mut self) {
    if self.len == 0 {
      return;
    }
    // SAFETY: `ptr`/`len` are exactly what `mmap` returned, and `Drop` runs once, so the range is
    // still mapped. Owners guarantee that no JS or Rust value can reach it afterwards (the
    // segment is shared through an `Arc` held by every view). munmap can only fail for an
    // invalid range, which these are not; there is nothing useful to do with an error in drop.
    let _ = unsafe { munmap(self.ptr.as_ptr(), self.len) };
  }
}

/// On Linux a POSIX shm object is a file in `/dev/shm`, a directory anyone may write to. glibc's
/// `shm_open` refuses to follow a symlink planted there (it could point anywhere, such as a file
/// only we may write); rustix opens the file itself, so ask for the same.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn no_follow() -> shm::OFlags {
  shm::OFlags::from_bits_retain(rustix::fs::OFlags::NOFOLLOW.bits())
}

/// The private memory that takes a released segment's place is never meant to be used: on Linux
/// it reserves no swap or commit charge, so releasing a large block cannot fail for lack of it.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn no_reserve() -> MapFlags {
  MapFlags::NORESERVE
}

/// Elsewhere untouched private pages cost nothing until written.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn no_reserve() -> MapFlags {
  MapFlags::empty()
}

/// Elsewhere shm names are not paths and cannot be symlinks.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn no_follow() -> shm::OFlags {
  shm::OFlags::empty()
}

/// Gives a new object its size, allocating the pages now where the OS can, so that running out of
/// space is `ENOSPC` here instead of a SIGBUS when a page is first touched (a tmpfs such as
/// Docker's 64 MB `/dev/shm`). `fallocate` sets the size only once every page is allocated, so a
/// process attaching meanwhile sees size 0, never a size whose pages may be missing.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn set_size(fd: &OwnedFd, size: u64) -> io::Result<()> {
  match rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, size) {
    Ok(()) => return Ok(()),
    // File systems that cannot preallocate (and FreeBSD's shm before 14) have no sparse-page
    // failure mode to protect against either: give the size the plain way.
    Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::INVAL | rustix::io::Errno::NODEV) => {}
    Err(e) => return Err(e.into()),
  }
  Ok(ftruncate(fd, size)?)
}

/// macOS backs POSIX shm with anonymous memory and has no `fallocate`; there is no tmpfs size
/// limit to hit.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn set_size(fd: &OwnedFd, size: u64) -> io::Result<()> {
  Ok(ftruncate(fd, size)?)
}

/// Removes the name `os_name`; processes that have the object mapped keep their mappings.
pub fn unlink(os_name: &str) -> io::Result<()> {
  Ok(shm::unlink(os_name)?)
}

/// Whether an object named `os_name` exists (also when we may not open it).
pub fn exists(os_name: &str) -> io::Result<bool> {
  match shm::open(os_name, shm::OFlags::RDONLY | no_follow(), Mode::empty()) {
    Ok(_) => Ok(true),
    Err(rustix::io::Errno::NOENT) => Ok(false),
    Err(rustix::io::Errno::ACCESS | rustix::io::Errno::LOOP) => Ok(true),
    Err(e) => Err(e.into()),
  }
}
