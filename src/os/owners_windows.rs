//! Windows: whether the thread that holds a lock is alive, as the kernel knows it.
//!
//! Each thread that takes locks has a random 62-bit token. In each block where it may own locks,
//! it creates and owns a named mutex `shm-lock-<hash of the block's name>-<token>`, in the block's
//! namespace, and never releases it: Windows marks a mutex *abandoned* when the thread that owns
//! it ends, however it ends (the process killed included; Wine's server does the same). A prober
//! opens the mutex by name and tries it without waiting: owned by another thread (`WAIT_TIMEOUT`)
//! means alive; abandoned, free, or gone (no handle left anywhere) means dead. A prober that got
//! the mutex that way releases it again at once, so that it never looks owned. When this process
//! closes its last handle of a block, its mutexes for that block go with their handles, and its
//! locks there count as abandoned, as on Linux.
//!
//! A random token cannot be proven unique the way a Linux socket cookie is; two threads draw the
//! same one with odds near n²/2^63, and a thread refuses a token whose mutex another live thread
//! owns. A user who could read the block could create a mutex under a dead owner's name to make
//! it look alive: that delays waiters, and never hands anyone a lock.

use std::cell::Cell;
use std::io;
use std::os::windows::io::{AsRawHandle, HandleOrNull, OwnedHandle};
use std::ptr;
use std::sync::{Mutex, PoisonError};

use windows_sys::Win32::Foundation::{WAIT_ABANDONED, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Threading::{
  CreateMutexW, OpenMutexW, ReleaseMutex, WaitForSingleObject, MUTEX_MODIFY_STATE,
};

use super::{last_error, owned, waiters::fnv1a, wide};

/// `SYNCHRONIZE`: the right to wait on an object.
const SYNCHRONIZE: u32 = 0x0010_0000;

/// The owner mutexes of one segment: their name prefix, and those this process created.
#[derive(Debug)]
pub struct OwnerMarks {
  prefix: String,
  marked: Mutex<Option<Vec<(u64, OwnedHandle)>>>,
}

impl OwnerMarks {
  /// The marks of the segment named `os_name` (`Global\` prefix included).
  pub fn new(os_name: &str) -> OwnerMarks {
    let (namespace, plain) = match os_name.strip_prefix("Global\\") {
      Some(rest) => ("Global\\", rest),
      None => ("", os_name),
    };
    OwnerMarks {
      prefix: format!("{namespace}shm-lock-{:016x}", fnv1a(plain.as_bytes())),
      marked: Mutex::new(Some(Vec::new())),
    }
  }

  fn name_of(&self, token: u64) -> Vec<u16> {
    wide(&format!("{}-{token:016x}", self.prefix))
  }

  /// Marks the current thread, whose token is `token`, alive in this block: it owns its mutex.
  pub fn mark(&self, token: u64) -> io::Result<()> {
    let mut marked = self.marked.lock().unwrap_or_else(PoisonError::into_inner);
    let marked = marked
      .as_mut()
      .ok_or_else(|| io::Error::other("the block was closed"))?;
    if marked.iter().any(|(t, _)| *t == token) {
      return Ok(());
    }
    let name = self.name_of(token);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call, which returns
    // NULL or a new handle that nothing else owns: what `HandleOrNull::from_raw_handle` needs.
    let mutex =
      owned(unsafe { HandleOrNull::from_raw_handle(CreateMutexW(ptr::null(), 1, name.as_ptr())) })?;
    // Created now, this thread owns it; found existing (another handle of this thread's, or
    // someone else's), it owns it only if the wait succeeds. Owning it more than once is harmless:
    // it is never released, only abandoned.
    // SAFETY: `mutex` is a mutex handle this function owns, open for the call.
    match unsafe { WaitForSingleObject(mutex.as_raw_handle(), 0) } {
      WAIT_OBJECT_0 | WAIT_ABANDONED => {}
      WAIT_TIMEOUT => {
        return Err(io::Error::other(format!(
          "the owner mutex of this thread's lock token {token:016x} is held by another thread"
        )))
      }
      _ => return Err(last_error()),
    }
    marked.push((token, mutex));
    Ok(())
  }

  /// Whether the thread with `token` lives and holds this block open.
  pub fn alive(&self, token: u64) -> io::Result<bool> {
    let name = self.name_of(token);
    // SAFETY: as in `mark`; OpenMutexW returns NULL or a new handle.
    let opened = owned(unsafe {
      HandleOrNull::from_raw_handle(OpenMutexW(
        SYNCHRONIZE | MUTEX_MODIFY_STATE,
        0,
        name.as_ptr(),
      ))
    });
    let mutex = match opened {
      Ok(mutex) => mutex,
      // No handle left anywhere: every process that marked it has let go of the block.
      Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
      Err(e) => return Err(e),
    };
    // SAFETY: `mutex` is a mutex handle this function owns, open for the call.
    match unsafe { WaitForSingleObject(mutex.as_raw_handle(), 0) } {
      WAIT_TIMEOUT => Ok(true),
      WAIT_OBJECT_0 | WAIT_ABANDONED => {
        // This thread owns it now: give it back, so that it never looks owned by a live thread.
        // SAFETY: this thread owns `mutex` (the wait above succeeded).
        unsafe { ReleaseMutex(mutex.as_raw_handle()) };
        Ok(false)
      }
      _ => Err(last_error()),
    }
  }

  /// Closes this segment's owner mutexes (at `close()`).
  pub fn release(&self) {
    drop(
      self
        .marked
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(),
    );
  }
}

thread_local! {
  static TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// The current thread's lock token: random, never 0, below 2^62 - 1.
pub fn lock_token() -> io::Result<u64> {
  TOKEN.with(|token| {
    while token.get() == 0 {
      let random = u64::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
          .try_into()
          .expect("8 bytes"),
      );
      let candidate = random & ((1 << 62) - 1);
      if candidate != 0 && candidate != (1 << 62) - 1 {
        token.set(candidate);
      }
    }
    Ok(token.get())
  })
}
