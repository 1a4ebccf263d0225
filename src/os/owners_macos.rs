//! macOS: whether the thread that holds a lock is alive, as the kernel knows it.
//!
//! macOS refuses file locks on shm descriptors (XNU accepts them on vnodes only), so the Linux
//! marks cannot be made here. Instead the token names the thread itself: its process id and its
//! 64-bit thread id (`pthread_threadid_np`), which XNU draws from one counter for the whole system
//! and never hands out twice before a reboot. `proc_pidinfo(PROC_PIDTHREADID64INFO)` finds a live
//! thread of a live process by that pair, and fails with `ESRCH` when the thread or the process is
//! gone (a process that reused the id has no thread with that thread id). Another user's live
//! process answers `EPERM`: not known to be dead, so alive. A thread that closes a block keeps
//! owning the locks it holds there (nothing per block marks it); they pass on when it ends.

use std::io;
use std::mem;

use libc::c_void;

/// `PROC_PIDTHREADID64INFO` of `<sys/proc_info.h>` (macOS 10.8 and later); not in the libc crate.
const PROC_PIDTHREADID64INFO: libc::c_int = 15;

/// The bits of a token that hold the thread id; the process id sits above them (PIDs are below
/// 100,000 on macOS, 17 bits), so a token stays below 2^62.
const THREAD_BITS: u32 = 45;

#[derive(Debug)]
pub struct OwnerMarks;

impl OwnerMarks {
  pub fn new<T: ?Sized>(_descriptor: &T, _identity: (u64, u64)) -> io::Result<OwnerMarks> {
    Ok(OwnerMarks)
  }

  /// Nothing to mark: a live thread is its own mark.
  pub fn mark(&self, _token: u64) -> io::Result<()> {
    Ok(())
  }

  /// Whether the thread with `token` lives.
  pub fn alive(&self, token: u64) -> io::Result<bool> {
    let pid = (token >> THREAD_BITS) as libc::c_int;
    let thread = token & ((1 << THREAD_BITS) - 1);
    // SAFETY: `proc_threadinfo` is a plain C struct, for which all zeros is a valid value.
    let mut info: libc::proc_threadinfo = unsafe { mem::zeroed() };
    let size = mem::size_of::<libc::proc_threadinfo>() as libc::c_int;
    // SAFETY: `info` is writable for `size` bytes, which is all the call writes.
    let written = unsafe {
      libc::proc_pidinfo(
        pid,
        PROC_PIDTHREADID64INFO,
        thread,
        (&raw mut info).cast::<c_void>(),
        size,
      )
    };
    if written > 0 {
      return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
      Some(libc::ESRCH) => Ok(false),
      _ => Err(error),
    }
  }

  pub fn release(&self) {}
}

thread_local! {
  static TOKEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The current thread's lock token: its process id and thread id, which together never name
/// another thread before a reboot.
pub fn lock_token() -> io::Result<u64> {
  TOKEN.with(|token| {
    if token.get() == 0 {
      let mut thread = 0u64;
      // SAFETY: a null thread asks about the calling thread; `thread` is writable.
      let failed = unsafe { libc::pthread_threadid_np(0, &mut thread) };
      if failed != 0 {
        return Err(io::Error::from_raw_os_error(failed));
      }
      let pid = u64::from(std::process::id());
      if thread == 0 || thread >= 1 << THREAD_BITS || pid >= 1 << (62 - THREAD_BITS) {
        return Err(io::Error::other(format!(
          "process {pid} thread {thread} does not fit a lock token"
        )));
      }
      token.set(pid << THREAD_BITS | thread);
    }
    Ok(token.get())
  })
}
