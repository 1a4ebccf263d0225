//! Every error JavaScript can see, and the one place where OS errors become JS errors.
//!
//! JS gets a `TypeError` for a wrong argument type, a `RangeError` for a number outside its range,
//! and an `Error` with a stable `code` for everything else. Messages name the block.

use std::fmt;
use std::io;

use napi::bindgen_prelude::{JsError, JsRangeError, JsTypeError};
use napi::{Env, Status};

use crate::name::NameError;

/// What fallible code returns before the `#[napi]` layer throws it.
pub type ShmResult<T> = std::result::Result<T, ShmError>;

#[derive(Debug)]
pub enum ShmError {
  /// An argument of the wrong type: `TypeError`, code `ERR_INVALID_ARG_TYPE`.
  InvalidArgType(String),
  /// An argument of the right type but an unusable value: `TypeError`, code
  /// `ERR_INVALID_ARG_VALUE` (as Node's own APIs do).
  InvalidArgValue(String),
  /// A number outside its range: `RangeError`, code `ERR_OUT_OF_RANGE`.
  OutOfRange(String),
  InvalidName {
    name: String,
    reason: String,
  },
  Exists {
    name: String,
    source: io::Error,
  },
  NotFound {
    name: String,
    source: io::Error,
  },
  /// Data bigger than the block, or an attach size bigger than the block.
  TooLarge(String),
  Access {
    name: String,
    source: io::Error,
  },
  NoSpace {
    name: String,
    source: io::Error,
  },
  Os {
    name: String,
    source: io::Error,
  },
  /// Something other than a shared-memory object at the name (a FIFO, a directory).
  NotABlock {
    name: String,
    source: io::Error,
  },
  /// `'if-missing'` found a block of another user under the name.
  Foreign {
    name: String,
    source: io::Error,
  },
  /// No thread could be started for one more `waitAsync`.
  TooManyWaits {
    name: String,
    running: usize,
  },
  /// `generateId` failed (the OS could not be asked whether a name is taken).
  Id(io::Error),
  /// A member used after `close()`.
  Closed {
    name: String,
  },
  /// A write to a block attached with `readOnly: true`.
  ReadOnly {
    name: String,
  },
  /// `unlock` of a lock the calling thread does not hold.
  NotOwner {
    name: String,
    offset: usize,
  },
  /// `lock` on the thread that holds the lock: it could never succeed.
  Deadlock {
    name: String,
    offset: usize,
  },
  /// What this system cannot do (locks where owner death cannot be told).
  Unsupported {
    name: String,
    source: io::Error,
  },
  /// The runtime (Electron) does not allow memory outside its heap in ArrayBuffers.
  NoExternalBuffers {
    name: String,
  },
}

impl ShmError {
  /// Maps an error of the OS layer for block `name` to what JS sees.
  pub fn from_os(name: &str, source: io::Error) -> ShmError {
    let name = shorten(name).into_owned();
    if let Some(inner) = source.get_ref() {
      if inner.is::<crate::os::NotABlock>() {
        return ShmError::NotABlock { name, source };
      }
      if inner.is::<crate::os::ForeignBlock>() {
        return ShmError::Foreign { name, source };
      }
    }
    match source.kind() {
      io::ErrorKind::AlreadyExists => ShmError::Exists { name, source },
      io::ErrorKind::NotFound => ShmError::NotFound { name, source },
      io::ErrorKind::PermissionDenied => ShmError::Access { name, source },
      io::ErrorKind::StorageFull => ShmError::NoSpace { name, source },
      io::ErrorKind::Unsupported => ShmError::Unsupported { name, source },
      io::ErrorKind::InvalidFilename => ShmError::InvalidName {
        reason: format!("the OS refused it: {source}"),
        name,
      },
      // mmap's ENOMEM: no room in the address space for a mapping of that size.
      io::ErrorKind::OutOfMemory | io::ErrorKind::FileTooLarge => ShmError::OutOfRange(format!(
        "shared memory block \"{name}\" cannot be mapped: {source} (larger than this process can map, or too many mappings: vm.max_map_count)"
      )),
      _ => ShmError::Os { name, source },
    }
  }

  pub fn invalid_name(name: &str, reason: NameError) -> ShmError {
    ShmError::InvalidName {
      name: shorten(name).into_owned(),
      reason: reason.to_string(),
    }
  }

  /// The stable `error.code` JS sees.
  pub fn code(&self) -> &'static str {
    match self {
      ShmError::InvalidArgType(_) => "ERR_INVALID_ARG_TYPE",
      ShmError::InvalidArgValue(_) => "ERR_INVALID_ARG_VALUE",
      ShmError::OutOfRange(_) => "ERR_OUT_OF_RANGE",
      ShmError::InvalidName { .. } => "ERR_SHM_INVALID_NAME",
      ShmError::Exists { .. } | ShmError::Foreign { .. } => "ERR_SHM_EXISTS",
      ShmError::NotABlock { .. } => "ERR_SHM_NOT_A_BLOCK",
      ShmError::NotFound { .. } => "ERR_SHM_NOT_FOUND",
      ShmError::TooLarge(_) => "ERR_SHM_TOO_LARGE",
      ShmError::Access { .. } => "ERR_SHM_ACCESS",
      ShmError::NoSpace { .. } => "ERR_SHM_NO_SPACE",
      ShmError::Os { .. } | ShmError::Id(_) => "ERR_SHM_OS",
      ShmError::TooManyWaits { .. } => "ERR_SHM_TOO_MANY_WAITS",
      ShmError::Closed { .. } => "ERR_SHM_CLOSED",
      ShmError::ReadOnly { .. } => "ERR_SHM_READ_ONLY",
      ShmError::NoExternalBuffers { .. } => "ERR_SHM_NO_EXTERNAL_BUFFERS",
      ShmError::NotOwner { .. } => "ERR_SHM_NOT_OWNER",
      ShmError::Deadlock { .. } => "ERR_SHM_DEADLOCK",
      ShmError::Unsupported { .. } => "ERR_SHM_UNSUPPORTED",
    }
  }

  /// Throws this error as the right JS class with its `code`, and returns the marker that tells
  /// napi-rs an exception is already pending.
  pub fn throw(self, env: &Env) -> napi::Error {
    let error = napi::Error::new(self.code().to_owned(), self.to_string());
    // SAFETY: `env` is the live environment of the current call, on the JS thread.
    unsafe {
      match self {
        ShmError::InvalidArgType(_) | ShmError::InvalidArgValue(_) => {
          JsTypeError::from(error).throw_into(env.raw())
        }
        ShmError::OutOfRange(_) => JsRangeError::from(error).throw_into(env.raw()),
        _ => JsError::from(error).throw_into(env.raw()),
      }
    }
    napi::Error::new(Status::PendingException, String::new())
  }
}

impl fmt::Display for ShmError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      ShmError::InvalidArgType(message)
      | ShmError::InvalidArgValue(message)
      | ShmError::OutOfRange(message)
      | ShmError::TooLarge(message) => f.write_str(message),
      ShmError::InvalidName { name, reason } => {
        write!(f, "invalid shared memory block name \"{name}\": {reason}")
      }
      ShmError::Exists { name, source } => {
        write!(f, "shared memory block \"{name}\" already exists: {source}")
      }
      ShmError::NotFound { name, source } => {
        write!(f, "shared memory block \"{name}\" does not exist: {source}")
      }
      ShmError::Access { name, source } => {
        write!(f, "no permission for shared memory block \"{name}\": {source}")
      }
      ShmError::NoSpace { name, source } => write!(
        f,
        "not enough space for shared memory block \"{name}\": {source} (on Linux, /dev/shm may be full or too small)"
      ),
      ShmError::Os { name, source } => write!(f, "shared memory block \"{name}\": {source}"),
      ShmError::NotABlock { name, source } => {
        write!(f, "cannot use shared memory block \"{name}\": {source}")
      }
      ShmError::Foreign { name, source } => write!(
        f,
        "shared memory block \"{name}\" already exists and {source}: 'if-missing' attaches only to this user's blocks (attach with create: false to share another user's block)"
      ),
      ShmError::TooManyWaits { name, running } => write!(
        f,
        "cannot wait on shared memory block \"{name}\": {running} waitAsync threads are running, as many as this process's address-space limit allows"
      ),
      ShmError::Id(source) => write!(f, "cannot generate a shared memory block name: {source}"),
      ShmError::Closed { name } => write!(f, "shared memory block \"{name}\" is closed"),
      ShmError::ReadOnly { name } => {
        write!(f, "shared memory block \"{name}\" was opened read-only")
      }
      ShmError::NotOwner { name, offset } => write!(
        f,
        "cannot unlock the lock at offset {offset} of shared memory block \"{name}\": this thread does not hold it"
      ),
      ShmError::Deadlock { name, offset } => write!(
        f,
        "this thread already holds the lock at offset {offset} of shared memory block \"{name}\": lock() would wait forever (locks are not recursive)"
      ),
      ShmError::Unsupported { name, source } => {
        write!(f, "shared memory block \"{name}\": {source}")
      }
      ShmError::NoExternalBuffers { name } => write!(
        f,
        "cannot give a view of shared memory block \"{name}\": this runtime (Electron's memory cage) forbids external buffers; use read/readBuffer/readInto and write instead"
      ),
    }
  }
}

/// `text` as a message shows it: whole up to 80 bytes, else its start and an ellipsis (a name of
/// megabytes is not echoed whole).
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
  const LIMIT: usize = 80;
  if text.len() <= LIMIT {
    return std::borrow::Cow::Borrowed(text);
  }
  let mut end = LIMIT;
  while !text.is_char_boundary(end) {
    end -= 1;
  }
  std::borrow::Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

/// `?` in the `#[napi]` layer: throw a [`ShmError`] with its JS class.
pub trait OrThrow<T> {
  fn or_throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> OrThrow<T> for Result<T, ShmError> {
  fn or_throw(self, env: &Env) -> napi::Result<T> {
    self.map_err(|e| e.throw(env))
  }
}

/// A failed napi call (never expected in practice) surfaces as an `ERR_SHM_OS` error.
impl From<napi::Error> for ShmError {
  fn from(error: napi::Error) -> ShmError {
    ShmError::Os {
      name: String::new(),
      source: io::Error::other(error.reason),
    }
  }
}
