//! Linux: whether the thread that holds a lock is alive, as the kernel knows it.
//!
//! Each thread that takes locks has a token the kernel never hands out twice: the cookie of a
//! throwaway socket (`SO_COOKIE`), drawn from one 64-bit counter for the whole machine, every PID
//! and network namespace included, that does not repeat before a reboot (and blocks do not outlive
//! one). While the thread lives and its process keeps the block open, the process holds an
//! open-file-description lock (`F_OFD_SETLK`) on byte `MARKS + token` of the block's own file. The
//! kernel drops it when the process dies, however it dies, whatever namespace it runs in, and
//! keeps it while the process is stopped (SIGSTOP); the thread's own end drops it too (its
//! thread-local state, below). Anyone who can open the block sees the byte through a description
//! of their own (`F_OFD_GETLK`; a description never sees its own locks, so the probe uses another
//! one than the marks). No PID is read anywhere: PIDs repeat, and mean nothing in another
//! namespace.
//!
//! The marks of one process and block live on one description, opened for the first mark and
//! shared by every `Segment` of the same file in this process, so that closing one of two handles
//! to a block does not take away a mark another still needs. When the last one is closed, the
//! description goes, and with it the marks: the process's locks in that block count as abandoned.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rustix::fd::OwnedFd;
use rustix::fs::{fstat, open, Mode, OFlags};
use rustix::net::{socket_with, sockopt, AddressFamily, SocketFlags, SocketType};

/// Where the marks start in the file: far past any block's end (bytes past the end of a file may
/// be locked, and doing so does not grow it). A token is below 2^62, so the byte fits an `off_t`.
const MARKS: u64 = 1 << 62;

/// The liveness marks of one segment: its own description, to probe through (it never holds a
/// mark), and the process's shared description of the file, which holds them.
pub struct OwnerMarks {
  state: Mutex<Option<Descriptions>>,
}

impl std::fmt::Debug for OwnerMarks {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("OwnerMarks")
  }
}

struct Descriptions {
  probe: OwnedFd,
  identity: (u64, u64),
  holder: Option<Arc<Holder>>,
}

/// The description that holds this process's marks on one file, and the tokens marked on it.
struct Holder {
  /// `None` only while the holder is dropped.
  fd: Option<OwnedFd>,
  identity: (u64, u64),
  marked: Mutex<HashSet<u64>>,
}

/// The holder of each file that this process holds marks on, by device and inode.
type Holders = HashMap<(u64, u64), Weak<Holder>>;
static HOLDERS: Mutex<Option<Holders>> = Mutex::new(None);

impl OwnerMarks {
  /// The marks of the segment mapped from `fd`, with `identity` its device and inode. Keeps a
  /// descriptor of the file (a duplicate of `fd`) until [`OwnerMarks::release`].
  pub fn new(fd: &OwnedFd, identity: (u64, u64)) -> io::Result<OwnerMarks> {
    let probe = fd.try_clone()?;
    Ok(OwnerMarks {
      state: Mutex::new(Some(Descriptions {
        probe,
        identity,
        holder: None,
      })),
    })
  }

  /// Marks `token`, this thread's (see [`lock_token`]), alive in this file, until the thread ends
  /// or this process closes every segment of the file.
  pub fn mark(&self, token: u64) -> io::Result<()> {
    let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
    let descriptions = state.as_mut().ok_or_else(released)?;
    if descriptions.holder.is_none() {
      descriptions.holder = Some(holder_of(&descriptions.probe, descriptions.identity)?);
    }
    let holder = descriptions.holder.as_ref().expect("set above");
    {
      let mut marked = holder.marked.lock().unwrap_or_else(PoisonError::into_inner);
      if marked.contains(&token) {
        return Ok(());
      }
      set_lock(holder.fd(), libc::F_WRLCK, token)?;
      marked.insert(token);
    }
    THREAD_MARKS.with(|marks| marks.held.borrow_mut().push(Arc::downgrade(holder)));
    Ok(())
  }

  /// Whether the thread with `token` lives, in any process that has this file open. A token that
  /// was never marked (a word some program wrote by hand) is not alive.
  pub fn alive(&self, token: u64) -> io::Result<bool> {
    let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
    let descriptions = state.as_ref().ok_or_else(released)?;
    // Only a write lock is a mark: a reader of the block may place read locks, and must not be
    // able to keep a dead owner alive.
    Ok(probe(&descriptions.probe, token)? == libc::F_WRLCK as libc::c_short)
  }

  /// Closes the segment's descriptors (at `close()`): marks held only through it go.
  pub fn release(&self) {
    drop(
      self
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(),
    );
  }
}

fn released() -> io::Error {
  io::Error::other("the block was closed")
}

/// The process's holder description of the file `probe` is a descriptor of: the existing one, or
/// a new description of the same file (opened again through `/proc/self/fd`, which works even
/// after the name was removed), checked to be the same file.
fn holder_of(probe: &OwnedFd, identity: (u64, u64)) -> io::Result<Arc<Holder>> {
  let mut holders = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
  let holders = holders.get_or_insert_with(HashMap::new);
  if let Some(holder) = holders.get(&identity).and_then(Weak::upgrade) {
    return Ok(holder);
  }
  let path = format!("/proc/self/fd/{}", probe.as_raw_fd());
  let fd = open(
    path.as_str(),
    OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY,
    Mode::empty(),
  )
  .map_err(|e| {
    io::Error::new(
      io::Error::from(e).kind(),
      format!("cannot open the block again through {path} to hold lock owners' marks: {e}"),
    )
  })?;
  let stat = fstat(&fd)?;
  if (stat.st_dev, stat.st_ino) != identity {
    return Err(io::Error::other(
      "/proc/self/fd led to another file than the block's",
    ));
  }
  let holder = Arc::new(Holder {
    fd: Some(fd),
    identity,
    marked: Mutex::new(HashSet::new()),
  });
  holders.retain(|_, holder| holder.strong_count() > 0);
  holders.insert(identity, Arc::downgrade(&holder));
  Ok(holder)
}

impl Holder {
  fn fd(&self) -> &OwnedFd {
    self.fd.as_ref().expect("open until dropped")
  }
}

impl Drop for Holder {
  fn drop(&mut self) {
    let mut holders = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(holders) = holders.as_mut() {
      if holders
        .get(&self.identity)
        .is_some_and(|holder| holder.strong_count() == 0)
      {
        holders.remove(&self.identity);
      }
    }
    // Its marks go with the description. Closed before the registry is unlocked: a new holder
    // of the same file, opened meanwhile, would find this one's marks still there.
    drop(self.fd.take());
  }
}

/// The `struct flock` of byte `MARKS + token`.
fn byte_of(token: u64, kind: libc::c_int) -> libc::flock {
  // SAFETY: `flock` is a plain C struct of integers, for which all zeros is a valid value (and
  // `l_pid` must be 0 for the F_OFD_* commands).
  let mut lock: libc::flock = unsafe { std::mem::zeroed() };
  lock.l_type = kind as libc::c_short;
  lock.l_whence = libc::SEEK_SET as libc::c_short;
  lock.l_start = (MARKS + token) as libc::off_t;
  lock.l_len = 1;
  lock
}

/// Places (`F_WRLCK`) or removes (`F_UNLCK`) the mark of `token` through `fd`.
fn set_lock(fd: &OwnedFd, kind: libc::c_int, token: u64) -> io::Result<()> {
  let lock = byte_of(token, kind);
  // SAFETY: `fd` is an open descriptor for the whole call, and `lock` a valid `struct flock` that
  // `F_OFD_SETLK` only reads.
  let result = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_SETLK, &lock) };
  if result == -1 {
    let error = io::Error::last_os_error();
    return Err(match error.raw_os_error() {
      // Another description holds the byte: only a process that can write the block could.
      Some(libc::EAGAIN) | Some(libc::EACCES) => io::Error::other(format!(
        "the liveness mark of this thread's lock token {token} is held by another process"
      )),
      _ => error,
    });
  }
  Ok(())
}

/// The kind of lock another description holds on the mark of `token` (`F_UNLCK`: none).
fn probe(fd: &OwnedFd, token: u64) -> io::Result<libc::c_short> {
  let mut lock = byte_of(token, libc::F_WRLCK);
  // SAFETY: `fd` is an open descriptor for the whole call, and `lock` a valid `struct flock` that
  // `F_OFD_GETLK` fills in.
  let result = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
  if result == -1 {
    return Err(io::Error::last_os_error());
  }
  Ok(lock.l_type)
}

/// The marks the current thread placed, removed when it ends (a worker that exits), so that a
/// lock it still holds counts as abandoned from then on.
struct ThreadMarks {
  token: std::cell::Cell<Option<u64>>,
  held: std::cell::RefCell<Vec<Weak<Holder>>>,
}

impl Drop for ThreadMarks {
  fn drop(&mut self) {
    let Some(token) = self.token.get() else {
      return;
    };
    for holder in self.held.get_mut().drain(..).filter_map(|h| h.upgrade()) {
      let mut marked = holder.marked.lock().unwrap_or_else(PoisonError::into_inner);
      if marked.remove(&token) {
        // Nothing to do if it fails: the mark then goes when the process closes the block.
        let _ = set_lock(holder.fd(), libc::F_UNLCK, token);
      }
    }
  }
}

thread_local! {
  static THREAD_MARKS: ThreadMarks = const {
    ThreadMarks {
      token: std::cell::Cell::new(None),
      held: std::cell::RefCell::new(Vec::new()),
    }
  };
}

/// The current thread's lock token: never 0, below 2^62 - 1, and never the token of another
/// thread of any process on this machine since it started.
pub fn lock_token() -> io::Result<u64> {
  THREAD_MARKS.with(|marks| {
    if let Some(token) = marks.token.get() {
      return Ok(token);
    }
    let socket = socket_with(
      AddressFamily::UNIX,
      SocketType::DGRAM,
      SocketFlags::CLOEXEC,
      None,
    )?;
    let token = sockopt::socket_cookie(&socket)?;
    if token == 0 || token >= (1 << 62) - 1 {
      return Err(io::Error::other(format!(
        "the kernel gave socket cookie {token}, outside the range of lock tokens"
      )));
    }
    marks.token.set(Some(token));
    Ok(token)
  })
}
