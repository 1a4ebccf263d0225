//! Windows: pagefile-backed named file mappings (`CreateFileMappingW(INVALID_HANDLE_VALUE, ...)`),
//! through `windows-sys`. Unlike the `shared_memory` crate, no file under `%TEMP%` is involved,
//! so `Global\` names work and native programs see the same object.

use std::ffi::c_void;
use std::io;
use std::mem;
use std::ptr;

use windows_sys::Win32::Foundation::{
  CloseHandle, GetLastError, ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_FILE_NOT_FOUND,
  HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Memory::{
  CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualQuery,
  FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS,
  PAGE_READWRITE,
};

use super::Access;

/// A view of a named file mapping, with the mapping's handle kept open for the view's life: a
/// Windows name lives as long as any handle to the object.
#[derive(Debug)]
pub struct Segment {
  handle: HANDLE,
  view: *mut c_void,
  len: usize,
}

// SAFETY: the handle and the view belong to this `Segment` alone and are released only by its
// `Drop`; handles and views may be used and closed from any thread of the process.
unsafe impl Send for Segment {}
// SAFETY: see `Send`: `&Segment` only gives out the address and length.
unsafe impl Sync for Segment {}

fn wide(os_name: &str) -> Vec<u16> {
  os_name.encode_utf16().chain(std::iter::once(0)).collect()
}

fn last_error() -> io::Error {
  io::Error::last_os_error()
}

impl Segment {
  /// Creates the mapping `os_name` exclusively with `len` bytes committed from the pagefile (so a
  /// lack of memory is an error here, never on first write) and maps all of it read-write.
  /// `mode` has no meaning on Windows: the object gets the creator's default security.
  pub fn create(os_name: &str, len: usize, _mode: u32) -> io::Result<Segment> {
    let name = wide(os_name);
    let size = len as u64;
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call; a null security
    // descriptor means the default one; INVALID_HANDLE_VALUE asks for a pagefile-backed section.
    let handle = unsafe {
      CreateFileMappingW(
        INVALID_HANDLE_VALUE,
        ptr::null(),
        PAGE_READWRITE,
        (size >> 32) as u32,
        size as u32,
        name.as_ptr(),
      )
    };
    if handle.is_null() {
      return Err(last_error());
    }
    // SAFETY: reads the calling thread's last-error value, set by the call just above.
    if unsafe { GetLastError() } == ERROR_ALREADY_EXISTS {
      // CreateFileMappingW opened the existing object instead of creating one.
      close(handle);
      return Err(io::Error::from_raw_os_error(ERROR_ALREADY_EXISTS as i32));
    }
    Segment::map(handle, len, Access::ReadWrite)
  }

  /// Attaches to the existing mapping `os_name` and maps all of it. Its length is the view's
  /// region size, which Windows rounds up to whole pages.
  pub fn open(os_name: &str, access: Access) -> io::Result<Segment> {
    let name = wide(os_name);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
    let handle = unsafe { OpenFileMappingW(desired_access(access), 0, name.as_ptr()) };
    if handle.is_null() {
      return Err(last_error());
    }
    Segment::map(handle, 0, access)
  }

  /// Maps `len` bytes of `handle` (0: all of it); takes ownership of `handle`.
  fn map(handle: HANDLE, len: usize, access: Access) -> io::Result<Segment> {
    // SAFETY: `handle` is a valid file-mapping handle opened with at least `access`; offset 0 and
    // a length within the section (or 0 for all of it) are valid arguments.
    let view: MEMORY_MAPPED_VIEW_ADDRESS =
      unsafe { MapViewOfFile(handle, desired_access(access), 0, 0, len) };
    if view.Value.is_null() {
      let err = last_error();
      close(handle);
      return Err(err);
    }
    let len = if len == 0 {
      // SAFETY: zero is a valid bit pattern for this plain C struct.
      let mut info: MEMORY_BASIC_INFORMATION = unsafe { mem::zeroed() };
      // SAFETY: `view.Value` is the base of the view just mapped; `info` is writable and its size
      // is passed along.
      let written = unsafe {
        VirtualQuery(
          view.Value,
          &mut info,
          mem::size_of::<MEMORY_BASIC_INFORMATION>(),
        )
      };
      if written == 0 {
        let err = last_error();
        // SAFETY: `view` was returned by MapViewOfFile above and is not used after this.
        unsafe { UnmapViewOfFile(view) };
        close(handle);
        return Err(err);
      }
      info.RegionSize
    } else {
      len
    };
    Ok(Segment {
      handle,
      view: view.Value,
      len,
    })
  }

  /// The first byte of the view.
  pub fn as_ptr(&self) -> *mut u8 {
    self.view.cast()
  }

  /// The mapped length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }

  /// Windows cannot remove a name before its last handle closes (see [`unlink`]); the name of
  /// this segment goes when it and every other handle are closed.
  pub fn unlink_if_same(&self, _os_name: &str) -> io::Result<bool> {
    Ok(false)
  }
}

fn desired_access(access: Access) -> u32 {
  match access {
    Access::ReadWrite => FILE_MAP_READ | FILE_MAP_WRITE,
    Access::ReadOnly => FILE_MAP_READ,
  }
}

fn close(handle: HANDLE) {
  // SAFETY: `handle` is a handle this module opened and closes exactly once. CloseHandle can only
  // fail for an invalid handle, which this is not; there is nothing useful to do with the error.
  unsafe { CloseHandle(handle) };
}

impl Drop for Segment {
  fn drop(&mut self) {
    // SAFETY: `view` is the base address MapViewOfFile returned and `Drop` runs once; owners
    // guarantee that no JS or Rust value can reach the view afterwards. An error can only mean an
    // invalid address, which this is not.
    unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: self.view }) };
    close(self.handle);
  }
}

/// Windows removes a name when the last handle to the object closes, and offers no way to remove
/// it earlier: this only reports whether the name exists (`NotFound` if not). The name goes once
/// every process has closed the block.
pub fn unlink(os_name: &str) -> io::Result<()> {
  match exists(os_name)? {
    true => Ok(()),
    false => Err(io::Error::from_raw_os_error(ERROR_FILE_NOT_FOUND as i32)),
  }
}

/// Whether a mapping named `os_name` exists (also when we may not open it).
pub fn exists(os_name: &str) -> io::Result<bool> {
  let name = wide(os_name);
  // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
  let handle = unsafe { OpenFileMappingW(FILE_MAP_READ, 0, name.as_ptr()) };
  if !handle.is_null() {
    close(handle);
    return Ok(true);
  }
  // SAFETY: reads the calling thread's last-error value, set by the call just above.
  match unsafe { GetLastError() } {
    ERROR_FILE_NOT_FOUND => Ok(false),
    ERROR_ACCESS_DENIED => Ok(true),
    code => Err(io::Error::from_raw_os_error(code as i32)),
  }
}
