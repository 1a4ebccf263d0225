//! POSIX shared memory: `shm_open` + `ftruncate` + `mmap(MAP_SHARED)`, through `rustix`.

use std::ffi::c_void;
use std::io;
use std::ptr::{self, NonNull};

use rustix::fd::OwnedFd;
use rustix::fs::{fchmod, flock, fstat, FileType, FlockOperation, Mode, Stat};
use rustix::mm::{mmap, mmap_anonymous, munmap, MapFlags, ProtFlags};
use rustix::shm;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use super::owners::OwnerMarks;
use super::watch::WAIT_SLICE;
use super::{
  futex, next_slice, settled_before_sleep, Access, ForeignBlock, FutexWait, NotABlock, WaitOutcome,
};
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
use per_system::set_size;
use per_system::{address_space_used, identity_of_name, no_reserve, open_flags, PageAgain};

/// What POSIX leaves to each system: a name that is a path or not, mapping a page again, the
/// address space in use. One file per kind of system, so that no `cfg` is needed below.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "unix_linux.rs"]
mod per_system;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[path = "unix_other.rs"]
mod per_system;

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
  /// See [`Segment::being_created`].
  being_created: bool,
  /// A creator's descriptor of the object, holding its liveness lock (see [`LIVE`]) until the
  /// segment is released or dropped, or the process dies.
  liveness: Mutex<Option<OwnedFd>>,
  /// Which lock owners live (see `owners_*.rs`); holds a descriptor of the object until released.
  owners: OwnerMarks,
  /// How many of the segment's pages its waiter threads and the wait ring hold mapped again
  /// ([`WatchedWord`]), and a signal for each one let go, which [`Segment::release`] waits for.
  pages_again: Mutex<usize>,
  page_let_go: Condvar,
}

/// The mark of a block whose creator holds a liveness lock: the sticky bit, which Linux ignores
/// on files and which no other program sets on a shm object. It is set only once the creator holds
/// an exclusive `flock` on the object. `flock` locks belong to the open file description: the
/// kernel drops them when the creator dies, however it dies, and they mean the same in every PID
/// namespace. So a marked block whose lock can be taken has a dead creator.
const LIVE: u32 = 0o1000;

// SAFETY: `Segment` owns its address range (a `MAP_SHARED` mapping, or private memory in its
// place after `release`), which only its own `Drop` unmaps; Rust code reaches it only through raw
// pointers and atomics (`Segment::word`), never through references that assume the bytes stay
// unchanged, and `mmap`/`munmap` may be called from any thread.
unsafe impl Send for Segment {}
// SAFETY: see `Send`: `&Segment` only gives out the address and length.
unsafe impl Sync for Segment {}

impl Segment {
  /// Creates the object `os_name` exclusively with `len` bytes and permission bits `mode`, and
  /// maps it read-write. The pages are reserved up front where the OS allows it, so that a full
  /// `/dev/shm` is an error here instead of a SIGBUS on first write. Where the OS allows it, the
  /// creator holds a liveness lock on the object for as long as it lives (see [`LIVE`]). On
  /// failure nothing is left behind.
  pub fn create(os_name: &str, len: usize, mode: u32) -> io::Result<Segment> {
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR | open_flags();
    let fd = shm::open(os_name, flags, Mode::from_raw_mode(mode as _)).map_err(|e| match e {
      rustix::io::Errno::NOENT => {
        io::Error::other("there is no shared memory directory (/dev/shm)")
      }
      e => e.into(),
    })?;
    let made = (|| {
      // `shm_open` applies the umask; `fchmod` sets exactly the bits asked for.
      fchmod(&fd, Mode::from_raw_mode(mode as _))?;
      let live = match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
          fchmod(&fd, Mode::from_raw_mode((mode | LIVE) as _))?;
          true
        }
        // macOS shm descriptors refuse `flock`, and FreeBSD keeps only the permission bits of a
        // shm object's mode (the mark would be lost): such a block carries no mark, and is never
        // reclaimed.
        Err(_) => false,
      };
      let size = u64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
      set_size(&fd, size)?;
      Ok((Segment::map(&fd, len, Access::ReadWrite)?, live))
    })();
    match made {
      Ok((segment, live)) => {
        if live {
          *segment
            .liveness
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(fd);
        }
        Ok(segment)
      }
      Err(e) => {
        // The create failed part-way: remove the object we made, while `fd` (and its liveness
        // lock, so nobody reclaims it meanwhile) is still held, and only if the name still names
        // it. An error here cannot be reported better than the first one, which the caller gets.
        if let Ok(stat) = fstat(&fd) {
          let _ = unlink_if_identity(os_name, identity_of(&stat));
        }
        Err(e)
      }
    }
  }

  /// Removes the object `os_name` if this library created it (it carries the [`LIVE`] mark), the
  /// same user owns it, and its creator is dead (its liveness lock can be taken); returns whether
  /// it did. Anything else (a live creator, another user's object, an object another program
  /// made) is left alone.
  pub fn reclaim_if_stale(os_name: &str) -> io::Result<bool> {
    let fd = match open_existing(os_name, shm::OFlags::RDONLY | open_flags()) {
      Ok(fd) => fd,
      Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
      Err(e) => return Err(e),
    };
    let stat = regular(&fd)?;
    if check_own(&stat).is_err() || mode_bits(&stat) & LIVE == 0 {
      return Ok(false);
    }
    match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
      Ok(()) => {}
      // Its creator (or another process reclaiming it right now) holds the lock: alive.
      Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
      Err(e) => return Err(e.into()),
    }
    // Holding the lock, no one else can reclaim this object meanwhile; a new object under the
    // name (made after someone else removed this one) is told apart by its identity.
    let identity = identity_of(&stat);
    unlink_if_identity(os_name, identity)
  }

  /// Attaches to the existing object `os_name` and maps `size` bytes of it, or all of it as
  /// `fstat` reports its size. With `own_only`, an object that another user owns or that has other
  /// names (hard links another user could have made to one of our blocks) is refused with
  /// [`ForeignBlock`] before anything is mapped.
  pub fn open(
    os_name: &str,
    access: Access,
    size: Option<usize>,
    own_only: bool,
  ) -> io::Result<Segment> {
    let flags = open_flags()
      | match access {
        Access::ReadWrite => shm::OFlags::RDWR,
        Access::ReadOnly => shm::OFlags::RDONLY,
      };
    let fd = open_existing(os_name, flags)?;
    let stat = regular(&fd)?;
    if own_only {
      check_own(&stat)?;
    }
    let file_len =
      usize::try_from(stat.st_size).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
    // Only what was asked for is mapped: a file that someone grows cannot make it fail.
    let len = size.map_or(file_len, |size| size.min(file_len));
    let mut segment = Segment::map(&fd, len, access)?;
    segment.being_created = file_len == 0 && creator_alive(&fd, &stat);
    Ok(segment)
  }

  /// Whether the object was empty when opened while its creator, alive, still held it: a block
  /// whose pages are still being reserved (see `set_size`), which an attach waits for.
  pub fn being_created(&self) -> bool {
    self.being_created
  }

  fn map(fd: &OwnedFd, len: usize, access: Access) -> io::Result<Segment> {
    let stat = fstat(fd)?;
    let identity = identity_of(&stat);
    if len == 0 {
      // mmap(2) refuses a zero length; an empty object maps to an empty segment.
      return Ok(Segment {
        ptr: NonNull::dangling(),
        len: 0,
        identity,
        prot: ProtFlags::empty(),
        released: AtomicBool::new(false),
        pages_again: Mutex::new(0),
        page_let_go: Condvar::new(),
        being_created: false,
        liveness: Mutex::new(None),
        owners: OwnerMarks::new(fd, identity)?,
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
      pages_again: Mutex::new(0),
      page_let_go: Condvar::new(),
      being_created: false,
      liveness: Mutex::new(None),
      owners: OwnerMarks::new(fd, identity)?,
    })
  }

  pub(super) fn owner_marks(&self) -> &OwnerMarks {
    &self.owners
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
  /// any process), the `deadline`, or `cancelled()` says so (asked every [`WAIT_SLICE`]).
  pub fn wait(
    &self,
    offset: usize,
    expected: u32,
    deadline: Option<Instant>,
    cancelled: &dyn Fn() -> bool,
  ) -> io::Result<WaitOutcome> {
    wait_on(self.word(offset), expected, deadline, cancelled, None)
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
    // Locks that this process holds only through this segment are abandoned from now on.
    self.owners.release();
    // The name is gone or no longer ours: the liveness lock has nothing left to vouch for.
    drop(
      self
        .liveness
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(),
    );
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
      Ok(_) => {
        self.await_pages_let_go();
        Ok(())
      }
      Err(e) => {
        // Nothing was replaced: the shared mapping stays until `Drop`, safe to use meanwhile.
        self.released.store(false, Ordering::Release);
        Err(e.into())
      }
    }
  }

  /// Waits until the waits of this segment have let go of the pages they mapped again, where an
  /// interrupt ends their sleeps at once (`close()` cancelled and interrupted them just before):
  /// those mappings hold the object, which would otherwise stay allocated after `close()`
  /// returned, for up to a wait slice. Elsewhere they let go when their slice ends. Waits at
  /// most one slice, whatever happens.
  fn await_pages_let_go(&self) {
    if !per_system::interrupts_end_sleeps() {
      return;
    }
    let pages = self
      .pages_again
      .lock()
      .unwrap_or_else(PoisonError::into_inner);
    drop(
      self
        .page_let_go
        .wait_timeout_while(pages, WAIT_SLICE, |pages| *pages > 0)
        .unwrap_or_else(PoisonError::into_inner),
    );
  }

  /// Removes the name `os_name` if it still names this object; returns whether it did. A name
  /// that was removed and taken by a new object meanwhile is left alone.
  pub fn unlink_if_same(&self, os_name: &str) -> io::Result<bool> {
    unlink_if_identity(os_name, self.identity)
  }
}

/// The wait loop of [`Segment::wait`] and [`WatchedWord::wait`], on `word`; a waiter thread's
/// sleeps also end at an [`interrupt`] of its `interrupt` word.
fn wait_on(
  word: &AtomicU32,
  expected: u32,
  deadline: Option<Instant>,
  cancelled: &dyn Fn() -> bool,
  interrupt: Option<&AtomicU32>,
) -> io::Result<WaitOutcome> {
  if let Some(outcome) = settled_before_sleep(word, expected, deadline) {
    return Ok(outcome);
  }
  loop {
    if cancelled() {
      return Ok(WaitOutcome::Cancelled);
    }
    let Some(slice) = next_slice(deadline) else {
      return Ok(WaitOutcome::TimedOut);
    };
    let slept = match interrupt {
      Some(interrupt) => per_system::sleep(word, expected, interrupt, slice)?,
      None => futex::wait(word, expected, slice)?,
    };
    match slept {
      FutexWait::Woken if cancelled() => {
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

/// The word a `waitAsync` thread sleeps on. On Linux the thread gets a mapping of its own of the
/// word's page (`PageAgain`), so the word stays shared with the other processes for as long as
/// the thread waits, even when `close()` releases the segment meanwhile: a notify that reaches
/// the thread after that is still handed on to the others. Elsewhere it is the segment's word (a
/// wake-up that reaches a thread whose block was just closed may be lost there; documented).
pub struct WatchedWord {
  /// Keeps the segment's range mapped.
  segment: Arc<Segment>,
  offset: usize,
  /// The word's page mapped again, where the OS can.
  page: Option<PageAgain>,
}

impl WatchedWord {
  /// The word at `offset` of `segment`, a multiple of 4 inside it (checked by the caller).
  pub fn new(segment: Arc<Segment>, offset: usize) -> WatchedWord {
    // Panics on a word outside the segment, before any mapping is made.
    segment.word(offset);
    let page = PageAgain::of(&segment, offset);
    if page.is_some() {
      *segment
        .pages_again
        .lock()
        .unwrap_or_else(PoisonError::into_inner) += 1;
    }
    WatchedWord {
      segment,
      offset,
      page,
    }
  }

  pub(super) fn word(&self) -> &AtomicU32 {
    match &self.page {
      Some(page) => page.word(self.offset),
      None => self.segment.word(self.offset),
    }
  }

  /// [`Segment::wait`] on this word, for a waiter thread: an [`interrupt`] of `interrupt` (a
  /// word that starts at 0) ends its sleep, so that it sees `cancelled()` at once.
  pub fn wait(
    &self,
    expected: u32,
    deadline: Option<Instant>,
    cancelled: &dyn Fn() -> bool,
    interrupt: &AtomicU32,
  ) -> io::Result<WaitOutcome> {
    wait_on(self.word(), expected, deadline, cancelled, Some(interrupt))
  }
}

impl Drop for WatchedWord {
  fn drop(&mut self) {
    if self.page.take().is_some() {
      let mut pages = self
        .segment
        .pages_again
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
      *pages -= 1;
      self.segment.page_let_go.notify_all();
    }
  }
}

/// Sets `word`, and ends the sleep of the waiter thread that watches it as its interrupt (see
/// [`WatchedWord::wait`]) where the system can end one thread's sleep alone.
pub fn interrupt(word: &AtomicU32) {
  per_system::interrupt(word);
}

/// Removes the name `os_name` if it names the object `identity`; returns whether it did.
fn unlink_if_identity(os_name: &str, identity: (u64, u64)) -> io::Result<bool> {
  match identity_of_name(os_name)? {
    Some(current) if current == identity => {}
    _ => return Ok(false),
  }
  match shm::unlink(os_name) {
    Ok(()) => Ok(true),
    Err(rustix::io::Errno::NOENT) => Ok(false),
    Err(e) => Err(e.into()),
  }
}

/// Opens the existing object `os_name`; what cannot be a block at the name (planted by another
/// user in `/dev/shm`) is [`NotABlock`].
fn open_existing(os_name: &str, flags: shm::OFlags) -> io::Result<OwnedFd> {
  shm::open(os_name, flags, Mode::empty()).map_err(|e| match e {
    // A directory cannot be opened for writing; a symlink is not followed; a socket cannot be
    // opened at all.
    rustix::io::Errno::ISDIR => io::Error::other(NotABlock("a directory")),
    rustix::io::Errno::LOOP => io::Error::other(NotABlock("a symbolic link")),
    rustix::io::Errno::NXIO => io::Error::other(NotABlock("a socket")),
    e => e.into(),
  })
}

/// Fails with [`ForeignBlock`] unless this process's user owns the object and it has no other
/// name: `'if-missing'` and reclaiming must never take for their own a block another user planted,
/// or a hard link another user made to one of ours.
fn check_own(stat: &Stat) -> io::Result<()> {
  let foreign = |reason: String| io::Error::new(io::ErrorKind::AlreadyExists, ForeignBlock(reason));
  if stat.st_uid != effective_uid() {
    return Err(foreign(format!(
      "it belongs to another user (uid {})",
      stat.st_uid
    )));
  }
  #[allow(
    clippy::useless_conversion,
    reason = "the field type differs between platforms"
  )]
  let links = u64::from(stat.st_nlink);
  if links > 1 {
    return Err(foreign(format!("it has other names ({links} hard links)")));
  }
  Ok(())
}

/// The object's mode bits (`st_mode` is 16 bits wide on macOS, 32 elsewhere).
#[allow(
  clippy::unnecessary_cast,
  reason = "the field type differs between platforms"
)]
fn mode_bits(stat: &Stat) -> u32 {
  stat.st_mode as u32
}

/// Whether the creator of a marked object still holds its liveness lock (see [`LIVE`]).
fn creator_alive(fd: &OwnedFd, stat: &Stat) -> bool {
  // Only this user's blocks are trusted: another user could plant an empty marked file and hold
  // its lock to stall attaches.
  check_own(stat).is_ok()
    && mode_bits(stat) & LIVE != 0
    && flock(fd, FlockOperation::NonBlockingLockShared)
      .map(|()| {
        // Taken: no creator holds it. Give it back at once.
        let _ = flock(fd, FlockOperation::Unlock);
      })
      .is_err()
}

/// The owner of the objects this process creates, and whom `'if-missing'` and reclaiming trust.
fn effective_uid() -> u32 {
  rustix::process::geteuid().as_raw()
}

/// The object's status, if it is a regular file: on Linux the name is a path in `/dev/shm`, where
/// any user may put a FIFO (opening it would block without `O_NONBLOCK`), a directory or a device.
fn regular(fd: &OwnedFd) -> io::Result<Stat> {
  let stat = fstat(fd)?;
  let file_type = FileType::from_raw_mode(stat.st_mode as _);
  // Some systems report no file type for shm objects at all; only another type is refused.
  if file_type == FileType::RegularFile || mode_bits(&stat) & 0o170000 == 0 {
    return Ok(stat);
  }
  Err(io::Error::other(NotABlock(describe(file_type))))
}

/// How a message names a file type that is not a shared-memory object.
fn describe(file_type: FileType) -> &'static str {
  match file_type {
    FileType::Fifo => "a FIFO",
    FileType::Directory => "a directory",
    FileType::Symlink => "a symbolic link",
    FileType::Socket => "a socket",
    FileType::CharacterDevice | FileType::BlockDevice => "a device",
    _ => "a file of another kind",
  }
}

#[allow(
  clippy::useless_conversion,
  clippy::unnecessary_cast,
  reason = "the field types differ between platforms"
)]
fn identity_of(stat: &Stat) -> (u64, u64) {
  (u64::from(stat.st_dev as u64), u64::from(stat.st_ino))
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
  Ok(rustix::fs::ftruncate(fd, size)?)
}

/// Removes the name `os_name`; processes that have the object mapped keep their mappings.
pub fn unlink(os_name: &str) -> io::Result<()> {
  Ok(shm::unlink(os_name)?)
}

/// Whether an object named `os_name` exists (also when we may not open it).
pub fn exists(os_name: &str) -> io::Result<bool> {
  match identity_of_name(os_name) {
    Ok(found) => Ok(found.is_some()),
    // Where the object must be opened to be seen, one we may not open still exists.
    Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(true),
    Err(e) => Err(e),
  }
}

/// Runs `f` when the process exits through `exit()` (`process.exit()`, an uncaught exception, the
/// end of the program), where Node runs no finalizers on the main thread.
pub fn at_exit(f: extern "C" fn()) {
  // SAFETY: `f` is a plain function with no captured state; registering it has no other effect.
  // The addon is never unloaded while the process runs (Node does not dlclose addons, and glibc
  // would run the handler at dlclose if it did). If registering fails (no memory), names are
  // removed as before: by close() and finalizers.
  unsafe { libc::atexit(f) };
}

/// Whether this is the process that started: a child made by `fork()` (by a native module) must
/// not remove its parent's names when it exits.
pub fn is_original_process() -> bool {
  static STARTED: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
  let pid = std::process::id();
  *STARTED.get_or_init(|| pid) == pid
}

/// How many threads with `stack` bytes of stack may run waits: without an address-space limit,
/// as many as the OS starts. Under one (`ulimit -v`) V8 aborts when an allocation fails, so the
/// threads may only take part of what is left: each costs its stack and guard, and each of the
/// first few may make glibc reserve a 64 MiB malloc arena for it.
pub fn thread_budget(running: usize, stack: usize) -> bool {
  let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::As).current else {
    return true;
  };
  one_more_thread_fits(limit, address_space_used(), running as u64, stack as u64)
}

/// [`thread_budget`]'s rule, under a limit of `limit` bytes of address space of which `used` are
/// in use (`None`: unknown), with `running` threads of `stack` bytes of stack.
fn one_more_thread_fits(limit: u64, used: Option<u64>, running: u64, stack: u64) -> bool {
  const ARENA: u64 = 64 << 20;
  const GUARD: u64 = 64 << 10;
  let arenas = if running < 16 { ARENA } else { 0 };
  let thread = stack + GUARD + arenas;
  match used {
    // Leave V8 at least a quarter of the limit, and never take the last 256 MiB.
    Some(used) => {
      let left = limit.saturating_sub(used);
      left >= thread + (limit / 4).max(256 << 20)
    }
    // Unknown use: all threads together at most an eighth of the limit, arenas included.
    None => (running + 1) * (stack + GUARD) + 16 * ARENA <= limit / 8,
  }
}

#[cfg(test)]
mod tests {
  use super::one_more_thread_fits;

  const KIB: u64 = 1 << 10;
  const MIB: u64 = 1 << 20;
  const GIB: u64 = 1 << 30;

  #[test]
  fn a_thread_fits_while_a_quarter_of_the_limit_stays_free_after_it() {
    let limit = 4 * GIB;
    let stack = 64 * KIB;
    // One of the first 16 threads: its stack, a 64 KiB guard and a 64 MiB arena.
    let first = stack + 64 * KIB + 64 * MIB;
    let free = limit / 4 + first;
    assert!(one_more_thread_fits(limit, Some(limit - free), 0, stack));
    assert!(!one_more_thread_fits(
      limit,
      Some(limit - free + 1),
      0,
      stack
    ));
    assert!(one_more_thread_fits(limit, Some(limit - free), 15, stack));
    assert!(!one_more_thread_fits(
      limit,
      Some(limit - free + 1),
      15,
      stack
    ));
    // From the 17th on, no arena.
    let later = stack + 64 * KIB;
    let free = limit / 4 + later;
    assert!(one_more_thread_fits(limit, Some(limit - free), 16, stack));
    assert!(!one_more_thread_fits(
      limit,
      Some(limit - free + 1),
      16,
      stack
    ));
    // More in use than the limit: nothing fits.
    assert!(!one_more_thread_fits(limit, Some(limit + 1), 16, stack));
  }

  #[test]
  fn under_a_small_limit_the_last_256_mib_stay_free() {
    let limit = 512 * MIB;
    let stack = 64 * KIB;
    let free = 256 * MIB + stack + 64 * KIB;
    assert!(one_more_thread_fits(limit, Some(limit - free), 20, stack));
    assert!(!one_more_thread_fits(
      limit,
      Some(limit - free + 1),
      20,
      stack
    ));
  }

  #[test]
  fn with_use_unknown_all_threads_and_16_arenas_take_at_most_an_eighth() {
    let stack = 64 * KIB;
    let threads = |running: u64| (running + 1) * (stack + 64 * KIB) + 16 * 64 * MIB;
    for running in [0, 9, 1000] {
      let limit = 8 * threads(running);
      assert!(
        one_more_thread_fits(limit, None, running, stack),
        "{running}"
      );
      assert!(
        !one_more_thread_fits(limit - 1, None, running, stack),
        "{running}"
      );
      assert!(
        !one_more_thread_fits(limit, None, running + 1, stack),
        "{running}"
      );
    }
  }
}
