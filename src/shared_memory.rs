//! The `SharedMemory` class that JavaScript sees: argument handling and nothing else; the work is
//! done by [`Block`].

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::block::{range, Block};
use crate::error::{OrThrow, ShmError, ShmResult};
use crate::id;
use crate::js;
use crate::name::{os_name, Platform};
use crate::os::Access;

/// Permission bits of a created block on Unix: only the owner may use it.
const DEFAULT_MODE: u32 = 0o600;

/// Strings up to this many bytes are decoded from a buffer on the stack.
const STACK_STRING: usize = 1024;

/// A named block of shared memory.
#[napi(js_name = "SharedMemory")]
pub struct SharedMemory {
  block: Block,
  name: String,
  global: bool,
  host: bool,
}

#[napi]
impl SharedMemory {
  /// `new SharedMemory(name, sizeInBytes, global = false, host = true)`.
  #[napi(constructor)]
  pub fn new(
    env: &Env,
    name: Unknown,
    size: Unknown,
    global: Unknown,
    host: Unknown,
  ) -> Result<SharedMemory> {
    Self::open(&name, &size, &global, &host).or_throw(env)
  }

  /// The size of the block in bytes.
  #[napi(getter)]
  pub fn size(&self) -> f64 {
    self.block.size() as f64
  }

  /// The name the block was created or attached with.
  #[napi(getter)]
  pub fn name(&self) -> String {
    self.name.clone()
  }

  /// Whether this object created the block.
  #[napi(getter)]
  pub fn host(&self) -> bool {
    self.host
  }

  /// Whether the block lives in the `Global\` namespace (Windows only).
  #[napi(getter)]
  pub fn global(&self) -> bool {
    self.global
  }

  /// The OS-level name: `/name` on Unix; on Windows the name, with `Global\` in front when global.
  #[napi(getter)]
  pub fn id(&self) -> String {
    self.block.os_name().to_owned()
  }

  /// The string at the start of the block, up to the first NUL or the end of the block.
  #[napi(getter)]
  pub fn data<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    self.read_string(env, 0, self.block.size()).or_throw(env)
  }

  /// Writes a string at the start of the block, followed by a NUL when it is shorter.
  #[napi(setter)]
  pub fn set_data(&self, env: &Env, value: Unknown) -> Result<()> {
    if value.get_type()? != ValueType::String {
      return Err(js::wrong_type("data", "a string", &value).throw(env));
    }
    self.write_string(&value, 0).or_throw(env)
  }

  /// A new Buffer holding a copy of the whole block.
  #[napi(getter)]
  pub fn buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    self.copy_out(env).or_throw(env)
  }

  /// Copies binary data to the start of the block.
  #[napi(setter)]
  pub fn set_buffer(&self, env: &Env, value: Unknown) -> Result<()> {
    let written = match js::bytes(&value).or_throw(env)? {
      Some(bytes) => self.write_bytes(bytes, 0),
      None => Err(js::wrong_type("buffer", "a Buffer", &value)),
    };
    written.or_throw(env)
  }

  /// Writes a string (followed by a NUL when shorter than the block) or binary data at the start of
  /// the block.
  #[napi]
  pub fn write(&self, env: &Env, data: Unknown) -> Result<()> {
    let written = if data.get_type()? == ValueType::String {
      self.write_string(&data, 0)
    } else {
      match js::bytes(&data).or_throw(env)? {
        Some(bytes) => self.write_bytes(bytes, 0),
        None => Err(js::wrong_type("data", "a string or a Buffer", &data)),
      }
    };
    written.or_throw(env)
  }

  /// The string at the start of the block, as the `data` getter.
  #[napi]
  pub fn read<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    self.data(env)
  }

  /// A new Buffer holding a copy of the whole block, as the `buffer` getter.
  #[napi]
  pub fn read_buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    self.buffer(env)
  }

  /// A name for a new block that no existing block uses.
  #[napi]
  pub fn generate_id(env: &Env, global: Unknown) -> Result<String> {
    let global = js::optional_bool(&global, "global", false).or_throw(env)?;
    id::generate(global)
      .map_err(|e| ShmError::from_os("", e))
      .or_throw(env)
  }

  /// `generateId` on the libuv thread pool.
  #[napi(ts_return_type = "Promise<string>")]
  pub fn generate_id_async(env: &Env, global: Unknown) -> Result<AsyncTask<GenerateId>> {
    let global = js::optional_bool(&global, "global", false).or_throw(env)?;
    Ok(AsyncTask::new(GenerateId { global }))
  }
}

impl SharedMemory {
  /// The 1.x constructor: create `name` exclusively, or attach to it when `host` is false.
  fn open(
    name: &Unknown,
    size: &Unknown,
    global: &Unknown,
    host: &Unknown,
  ) -> ShmResult<SharedMemory> {
    let name = js::string(name, "name")?;
    let size = js::size(size, "sizeInBytes")?;
    let global = js::optional_bool(global, "global", false)?;
    let host = js::optional_bool(host, "host", true)?;
    let os_name =
      os_name(&name, global, Platform::CURRENT).map_err(|e| ShmError::invalid_name(&name, e))?;
    let block = if host {
      Block::create(&os_name, size, DEFAULT_MODE).map_err(|e| ShmError::from_os(&name, e))?
    } else {
      let mut block =
        Block::open(&os_name, Access::ReadWrite).map_err(|e| ShmError::from_os(&name, e))?;
      if block.size() < size {
        return Err(ShmError::TooLarge(format!(
          "shared memory block \"{name}\" has {} bytes, fewer than the {size} asked for",
          block.size()
        )));
      }
      block.truncate(size);
      block
    };
    Ok(SharedMemory {
      block,
      name,
      global,
      host,
    })
  }

  /// Encodes `value` (a JS string) at `offset`, followed by a NUL when it ends before the block.
  fn write_string(&self, value: &Unknown, offset: usize) -> ShmResult<()> {
    let len = js::utf8_len(value)?;
    let room = self.block.size() - offset;
    if len > room {
      return Err(self.too_large("string", len, room));
    }
    if len < room {
      // Straight into the block: napi writes the `len` bytes and the NUL after them.
      // SAFETY: `offset + len + 1 <= size`: the `len + 1` bytes at `offset` are inside the block.
      unsafe { js::write_utf8(value, self.block.ptr_at(offset), len + 1) }?;
    } else if len > 0 {
      // Exactly full: no room for napi's NUL, so encode aside and copy the bytes alone.
      let mut encoded = vec![0u8; len + 1];
      // SAFETY: `encoded` is writable for its whole length.
      let written = unsafe { js::write_utf8(value, encoded.as_mut_ptr(), encoded.len()) }?;
      // SAFETY: `encoded` is readable for `written <= len` bytes, which fit at `offset`.
      unsafe { self.block.write(offset, encoded.as_ptr(), written) };
    }
    Ok(())
  }

  /// Copies binary data to `offset`.
  fn write_bytes(&self, bytes: js::JsBytes, offset: usize) -> ShmResult<()> {
    let room = self.block.size() - offset;
    if bytes.len > room {
      return Err(self.too_large("data", bytes.len, room));
    }
    // SAFETY: `bytes` is readable for `len` bytes for the rest of this call (see `js::bytes`),
    // and the range was checked above.
    unsafe { self.block.write(offset, bytes.ptr, bytes.len) };
    Ok(())
  }

  /// The string at `offset`, up to the first NUL or `max` bytes, decoded as UTF-8.
  fn read_string<'env>(
    &self,
    env: &'env Env,
    offset: usize,
    max: usize,
  ) -> ShmResult<Unknown<'env>> {
    let len = self.block.strlen(offset, max);
    // Copied out before decoding: V8 must not see the bytes change under it.
    if len <= STACK_STRING {
      let mut buf = [0u8; STACK_STRING];
      self.block.read(offset, &mut buf[..len]);
      js::string_from_utf8(env, &buf[..len])
    } else {
      let mut buf = vec![0u8; len];
      self.block.read(offset, &mut buf);
      js::string_from_utf8(env, &buf)
    }
  }

  /// A new Buffer with a copy of the whole block.
  fn copy_out<'env>(&self, env: &'env Env) -> ShmResult<Unknown<'env>> {
    let whole = range(0, self.block.size(), self.block.size()).expect("the whole block");
    // SAFETY: the whole block is mapped and readable while `self` holds it.
    unsafe { js::buffer_copy(env, self.block.ptr_at(whole.start), whole.len()) }
  }

  fn too_large(&self, what: &str, len: usize, room: usize) -> ShmError {
    ShmError::TooLarge(format!(
      "{what} of {len} bytes does not fit in shared memory block \"{}\" ({room} bytes available)",
      self.name
    ))
  }
}

/// The work of `generateIdAsync`, done on the libuv thread pool.
pub struct GenerateId {
  global: bool,
}

#[napi]
impl Task for GenerateId {
  type Output = String;
  type JsValue = String;

  fn compute(&mut self) -> Result<String> {
    id::generate(self.global).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
  }

  fn resolve(&mut self, _env: Env, id: String) -> Result<String> {
    Ok(id)
  }
}
