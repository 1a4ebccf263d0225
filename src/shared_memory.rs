//! The `SharedMemory` class that JavaScript sees: argument handling and nothing else; the work is
//! done by [`Block`] and [`View`].

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::block::Block;
use crate::error::{OrThrow, ShmError, ShmResult};
use crate::id;
use crate::js;
use crate::name::{os_name, Platform};
use crate::options::{Create, Options};
use crate::os::{self, Access};
use crate::rules::range;
use crate::view::View;
use crate::wait::{self, AsyncWait, Settle};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// How long `waitAsync` watches the word on the JS thread before it hands the wait to a thread of
/// its own: a reply that comes this fast (a busy peer) costs no thread hand-off and no event-loop
/// wake-up, and the event loop is held up no longer than by a small synchronous call.
const ASYNC_SPIN: std::time::Duration = std::time::Duration::from_micros(20);

/// Strings up to this many bytes are decoded from a buffer on the stack.
const STACK_STRING: usize = 1024;

/// A named block of shared memory.
#[napi(js_name = "SharedMemory", custom_finalize)]
pub struct SharedMemory {
  /// `None` once closed.
  block: Option<Block>,
  /// The zero-copy view, made on first use.
  view: Option<View>,
  /// The `waitAsync` calls in flight, by id, to cancel on abort or `close()`.
  waits: HashMap<u32, Weak<AsyncWait>>,
  next_wait: u32,
  name: String,
  /// Kept after `close()`, like the other properties that describe the block.
  size: usize,
  global: bool,
  host: bool,
}

#[napi]
impl SharedMemory {
  /// `new SharedMemory(name, sizeInBytes, global = false, host = true)` or
  /// `new SharedMemory(name, options)`.
  #[napi(constructor)]
  pub fn new(
    env: &Env,
    name: Unknown,
    size_or_options: Unknown,
    global: Unknown,
    host: Unknown,
  ) -> Result<SharedMemory> {
    Options::parse(&name, &size_or_options, &global, &host)
      .and_then(SharedMemory::open)
      .or_throw(env)
  }

  /// The size of the block in bytes.
  #[napi(getter)]
  pub fn size(&self) -> f64 {
    self.size as f64
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
    os_name(&self.name, self.global, Platform::CURRENT).unwrap_or_default()
  }

  /// Whether `close()` was called.
  #[napi(getter)]
  pub fn closed(&self) -> bool {
    self.block.is_none()
  }

  /// Whether the block is mapped read-only.
  #[napi(getter)]
  pub fn read_only(&self) -> bool {
    self.block.as_ref().is_some_and(Block::is_read_only)
  }

  /// The string at the start of the block, up to the first NUL or the end of the block.
  #[napi(getter)]
  pub fn data<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    self.read_string(env, 0, None).or_throw(env)
  }

  /// Writes a string at the start of the block, followed by a NUL when it is shorter.
  #[napi(setter)]
  pub fn set_data(&self, env: &Env, value: Unknown) -> Result<()> {
    let written = match value.get_type()? {
      ValueType::String => self.write_string(&value, 0),
      _ => Err(js::wrong_type("data", "a string", &value)),
    };
    written.or_throw(env)
  }

  /// A new Buffer holding a copy of the whole block.
  #[napi(getter)]
  pub fn buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
    self.copy_out(env, 0, None).or_throw(env)
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

  /// A Buffer over the whole block, without copying.
  #[napi(getter)]
  pub fn view<'env>(&mut self, env: &'env Env) -> Result<Unknown<'env>> {
    self.view_buffer(env).or_throw(env)
  }

  /// Writes a string (followed by a NUL when it ends before the block does) or binary data at
  /// `offset`.
  #[napi]
  pub fn write(&self, env: &Env, data: Unknown, offset: Unknown) -> Result<()> {
    self.write_at(&data, &offset).or_throw(env)
  }

  /// The string at `offset`: up to the first NUL, `length` bytes, or the end of the block.
  #[napi]
  pub fn read<'env>(
    &self,
    env: &'env Env,
    offset: Unknown,
    length: Unknown,
  ) -> Result<Unknown<'env>> {
    let (offset, length) = js::offset_and_length(&offset, &length).or_throw(env)?;
    self.read_string(env, offset, length).or_throw(env)
  }

  /// A new Buffer holding a copy of `length` bytes at `offset` (default: the rest of the block).
  #[napi]
  pub fn read_buffer<'env>(
    &self,
    env: &'env Env,
    offset: Unknown,
    length: Unknown,
  ) -> Result<Unknown<'env>> {
    let (offset, length) = js::offset_and_length(&offset, &length).or_throw(env)?;
    self.copy_out(env, offset, length).or_throw(env)
  }

  /// Copies bytes from `offset` into `target` (as many as fit); returns how many.
  #[napi]
  pub fn read_into(&self, env: &Env, target: Unknown, offset: Unknown) -> Result<f64> {
    self
      .copy_into(&target, &offset)
      .map(|n| n as f64)
      .or_throw(env)
  }

  /// If the 32-bit integer at `offset` equals `expected`, sleeps until a `notify` on that offset
  /// (from any process) or `timeoutMs`; blocks the calling thread, like `Atomics.wait`.
  #[napi(ts_return_type = "'ok' | 'not-equal' | 'timed-out'")]
  pub fn wait(
    &self,
    env: &Env,
    offset: Unknown,
    expected: Unknown,
    timeout_ms: Unknown,
  ) -> Result<&'static str> {
    self.wait_now(&offset, &expected, &timeout_ms).or_throw(env)
  }

  /// Wakes up to `count` waiters on `offset`, in every process; returns how many woke.
  #[napi]
  pub fn notify(&self, env: &Env, offset: Unknown, count: Unknown) -> Result<f64> {
    self
      .notify_now(&offset, &count)
      .map(|n| n as f64)
      .or_throw(env)
  }

  /// Unmaps the block as soon as no view holds it; a host also removes the block's name.
  #[napi]
  pub fn close(&mut self, env: &Env) -> Result<()> {
    self.cancel_waits(true);
    if let Some(view) = self.view.take() {
      view.detach(env).or_throw(env)?;
    }
    // Dropping the block removes a host's name and lets go of the mapping.
    self.block = None;
    Ok(())
  }

  /// Removes the block's name now; this object and every attached process keep working.
  #[napi]
  pub fn unlink(&mut self, env: &Env) -> Result<()> {
    let name = self.name.clone();
    let block = self
      .block
      .as_mut()
      .ok_or(ShmError::Closed { name: name.clone() })
      .or_throw(env)?;
    block
      .unlink()
      .map(drop)
      .map_err(|e| ShmError::from_os(&name, e))
      .or_throw(env)
  }

  /// Removes the block named `name` (a leftover after a crash); returns whether there was one.
  #[napi(js_name = "unlink")]
  pub fn unlink_name(env: &Env, name: Unknown, global: Unknown) -> Result<bool> {
    let unlinked =
      Self::os_name_of(&name, &global).and_then(|(name, os_name)| match os::unlink(&os_name) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ShmError::from_os(&name, e)),
      });
    unlinked.or_throw(env)
  }

  /// Whether a block named `name` exists.
  #[napi]
  pub fn exists(env: &Env, name: Unknown, global: Unknown) -> Result<bool> {
    let exists = Self::os_name_of(&name, &global)
      .and_then(|(name, os_name)| os::exists(&os_name).map_err(|e| ShmError::from_os(&name, e)));
    exists.or_throw(env)
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

/// Starts a `waitAsync` (the promise is made in `index.js`): returns its result at once when
/// there is nothing to wait for, or the id `waitAsyncCancel` takes; `settle(error, result)` is
/// called when it ends.
#[napi(skip_typescript)]
#[cfg_attr(
  test,
  allow(dead_code, reason = "napi-rs registers module functions outside tests")
)]
pub fn wait_async_start(
  env: &Env,
  memory: &mut SharedMemory,
  offset: Unknown,
  expected: Unknown,
  timeout_ms: Unknown,
  settle: Settle,
) -> Result<Either<&'static str, u32>> {
  memory
    .start_async_wait(&offset, &expected, &timeout_ms, settle)
    .or_throw(env)
}

/// Stops the `waitAsync` with id `id` (its signal was aborted; `index.js` rejects the promise).
#[napi(skip_typescript)]
#[cfg_attr(
  test,
  allow(dead_code, reason = "napi-rs registers module functions outside tests")
)]
pub fn wait_async_cancel(memory: &mut SharedMemory, id: u32) {
  if let Some(wait) = memory.waits.remove(&id).and_then(|wait| wait.upgrade()) {
    wait.cancel(None);
  }
}

impl ObjectFinalize for SharedMemory {
  fn finalize(mut self, env: Env) -> Result<()> {
    // Only an exiting environment finalizes an object with waits in flight (each pending
    // `waitAsync` callback holds the object): there is no one left to settle them for.
    self.cancel_waits(false);
    // The view Buffer may outlive this object; it keeps the mapping alive itself.
    if let Some(view) = self.view.take() {
      view.release(&env);
    }
    Ok(())
  }
}

impl SharedMemory {
  fn open(options: Options) -> ShmResult<SharedMemory> {
    let Options {
      name,
      size,
      create,
      global,
      mode,
      read_only,
    } = options;
    let os_name =
      os_name(&name, global, Platform::CURRENT).map_err(|e| ShmError::invalid_name(&name, e))?;
    let access = match read_only {
      true => Access::ReadOnly,
      false => Access::ReadWrite,
    };
    let os_error = |e| ShmError::from_os(&name, e);
    let (mut block, host) = match (create, size) {
      (Create::Always, Some(size)) => {
        (Block::create(&os_name, size, mode).map_err(os_error)?, true)
      }
      (Create::IfMissing, Some(size)) => {
        Block::create_or_open(&os_name, size, mode, access).map_err(os_error)?
      }
      _ => (Block::open(&os_name, access).map_err(os_error)?, false),
    };
    let wanted = size.unwrap_or(1);
    if !host {
      if block.size() < wanted {
        return Err(ShmError::TooLarge(format!(
          "shared memory block \"{name}\" has {} bytes, fewer than the {wanted} asked for",
          block.size()
        )));
      }
      block.truncate(size.unwrap_or(block.size()));
    }
    Ok(SharedMemory {
      size: block.size(),
      block: Some(block),
      view: None,
      waits: HashMap::new(),
      next_wait: 0,
      name,
      global,
      host,
    })
  }

  /// The byte offset of a 32-bit word for `wait`/`notify`: a multiple of 4 inside the block.
  fn word_offset(&self, block: &Block, offset: &Unknown) -> ShmResult<usize> {
    let offset = js::optional_index(offset, "offset")?.unwrap_or(0);
    if !offset.is_multiple_of(4) || range(offset, 4, block.size()).is_none() {
      return Err(ShmError::OutOfRange(format!(
        "offset must be a multiple of 4 with 4 bytes inside shared memory block \"{}\" of {} bytes, got {offset}",
        self.name,
        block.size()
      )));
    }
    Ok(offset)
  }

  fn wait_now(
    &self,
    offset: &Unknown,
    expected: &Unknown,
    timeout_ms: &Unknown,
  ) -> ShmResult<&'static str> {
    let offset = self.word_offset(self.block()?, offset)?;
    // Coercing `expected` may run JS (`valueOf`), which may close this block: borrow it after.
    let expected = wait::expected(expected)?;
    let deadline = wait::deadline(timeout_ms)?;
    let block = self.block()?;
    let never = std::sync::atomic::AtomicBool::new(false);
    let outcome = block
      .segment()
      .wait(offset, expected, deadline, &never)
      .map_err(|e| ShmError::from_os(&self.name, e))?;
    Ok(wait::outcome_name(outcome))
  }

  fn notify_now(&self, offset: &Unknown, count: &Unknown) -> ShmResult<usize> {
    let block = self.block()?;
    let offset = self.word_offset(block, offset)?;
    let count = wait::count(count)?;
    if count == 0 {
      return Ok(0);
    }
    block
      .segment()
      .wake(offset, count)
      .map_err(|e| ShmError::from_os(&self.name, e))
  }

  fn start_async_wait(
    &mut self,
    offset: &Unknown,
    expected: &Unknown,
    timeout_ms: &Unknown,
    settle: Settle,
  ) -> ShmResult<Either<&'static str, u32>> {
    let offset = self.word_offset(self.block()?, offset)?;
    // Coercing `expected` may run JS (`valueOf`), which may close this block: borrow it after.
    let expected = wait::expected(expected)?;
    let deadline = wait::deadline(timeout_ms)?;
    let block = self.block()?;
    let segment = Arc::clone(block.segment());
    // Nothing to wait for, or not for long: answer now, without a thread.
    let word = block.word(offset);
    if word.load(std::sync::atomic::Ordering::SeqCst) != expected {
      return Ok(Either::A("not-equal"));
    }
    if os::spin_until_changed(word, expected, ASYNC_SPIN, deadline) {
      return Ok(Either::A("ok"));
    }
    if deadline.is_some_and(|deadline| deadline <= std::time::Instant::now()) {
      return Ok(Either::A("timed-out"));
    }
    let wait = AsyncWait::new(settle);
    let id = self.next_wait;
    self.next_wait = self.next_wait.wrapping_add(1);
    if self.waits.len() >= 64 && self.waits.len().is_power_of_two() {
      // Forget finished waits now and then, so the map stays as small as the waits in flight.
      self
        .waits
        .retain(|_, wait| wait.upgrade().is_some_and(|w| w.is_pending()));
    }
    self.waits.insert(id, Arc::downgrade(&wait));
    wait::start(wait::Job {
      segment,
      name: self.name.clone(),
      offset,
      expected,
      deadline,
      wait,
    })?;
    Ok(Either::B(id))
  }

  /// Stops every `waitAsync` in flight; `reject` settles their promises with `ERR_SHM_CLOSED`.
  fn cancel_waits(&mut self, reject: bool) {
    for (_, wait) in self.waits.drain() {
      if let Some(wait) = wait.upgrade() {
        let error = reject.then(|| ShmError::Closed {
          name: self.name.clone(),
        });
        wait.cancel(error);
      }
    }
  }

  /// The validated name and OS name given to a static method.
  fn os_name_of(name: &Unknown, global: &Unknown) -> ShmResult<(String, String)> {
    let name = js::string(name, "name")?;
    let global = js::optional_bool(global, "global", false)?;
    let os_name =
      os_name(&name, global, Platform::CURRENT).map_err(|e| ShmError::invalid_name(&name, e))?;
    Ok((name, os_name))
  }

  /// The block, unless closed.
  fn block(&self) -> ShmResult<&Block> {
    self.block.as_ref().ok_or_else(|| ShmError::Closed {
      name: self.name.clone(),
    })
  }

  /// The block for writing, unless closed or read-only.
  fn writable_block(&self) -> ShmResult<&Block> {
    let block = self.block()?;
    if block.is_read_only() {
      return Err(ShmError::ReadOnly {
        name: self.name.clone(),
      });
    }
    Ok(block)
  }

  /// `offset..offset + length` (`length` defaults to the rest of the block) inside the block.
  fn span(
    &self,
    block: &Block,
    offset: usize,
    length: Option<usize>,
  ) -> ShmResult<std::ops::Range<usize>> {
    let size = block.size();
    if offset > size {
      return Err(ShmError::OutOfRange(format!(
        "offset {offset} is outside shared memory block \"{}\" of {size} bytes",
        self.name
      )));
    }
    let length = length.unwrap_or(size - offset);
    range(offset, length, size).ok_or_else(|| {
      ShmError::OutOfRange(format!(
        "{length} bytes at offset {offset} reach past the end of shared memory block \"{}\" of {size} bytes",
        self.name
      ))
    })
  }

  fn write_at(&self, data: &Unknown, offset: &Unknown) -> ShmResult<()> {
    self.block()?;
    let is_string = data.get_type()? == ValueType::String;
    let bytes = match is_string {
      true => None,
      false => Some(js::bytes(data)?.ok_or_else(|| {
        js::wrong_type(
          "data",
          "a string, Buffer, TypedArray, DataView or ArrayBuffer",
          data,
        )
      })?),
    };
    let offset = js::optional_index(offset, "offset")?.unwrap_or(0);
    match bytes {
      None => self.write_string(data, offset),
      Some(bytes) => self.write_bytes(bytes, offset),
    }
  }

  /// Encodes `value` (a JS string) at `offset`, followed by a NUL when it ends before the block.
  fn write_string(&self, value: &Unknown, offset: usize) -> ShmResult<()> {
    let block = self.writable_block()?;
    let room = self.span(block, offset, None)?.len();
    let len = js::utf8_len(value)?;
    if len > room {
      return Err(self.too_large("string", len, room));
    }
    if len < room {
      // Straight into the block: napi writes the `len` bytes and the NUL after them.
      let dst = block.ptr_for_write(offset, len + 1);
      // SAFETY: `dst` is writable for `len + 1 <= room` bytes.
      unsafe { js::write_utf8(value, dst, len + 1) }?;
    } else if len > 0 {
      // Exactly full: no room for napi's NUL, so encode aside and copy the bytes alone.
      let mut encoded = vec![0u8; len + 1];
      // SAFETY: `encoded` is writable for its whole length.
      let written = unsafe { js::write_utf8(value, encoded.as_mut_ptr(), encoded.len()) }?;
      // SAFETY: `encoded` is readable for `written <= len == room` bytes.
      unsafe { block.write(offset, encoded.as_ptr(), written) };
    }
    Ok(())
  }

  /// Copies binary data to `offset`.
  fn write_bytes(&self, bytes: js::JsBytes, offset: usize) -> ShmResult<()> {
    let block = self.writable_block()?;
    let room = self.span(block, offset, None)?.len();
    if bytes.len > room {
      return Err(self.too_large("data", bytes.len, room));
    }
    // SAFETY: `bytes` is readable for `len` bytes for the rest of this call (see `js::bytes`);
    // the range was checked above.
    unsafe { block.write(offset, bytes.ptr, bytes.len) };
    Ok(())
  }

  /// The string at `offset`, up to the first NUL, `length` bytes or the end, decoded as UTF-8.
  fn read_string<'env>(
    &self,
    env: &'env Env,
    offset: usize,
    length: Option<usize>,
  ) -> ShmResult<Unknown<'env>> {
    let block = self.block()?;
    let span = self.span(block, offset, length)?;
    let len = block.strlen(span.start, span.len());
    // Copied out before decoding: V8 must not see the bytes change under it.
    if len <= STACK_STRING {
      let mut buf = [0u8; STACK_STRING];
      // SAFETY: `buf` is writable for `len <= STACK_STRING` bytes.
      unsafe { block.read(offset, buf.as_mut_ptr(), len) };
      js::string_from_utf8(env, &buf[..len])
    } else {
      let mut buf = vec![0u8; len];
      // SAFETY: `buf` is writable for `len` bytes.
      unsafe { block.read(offset, buf.as_mut_ptr(), len) };
      js::string_from_utf8(env, &buf)
    }
  }

  /// A new Buffer with a copy of `length` bytes at `offset`.
  fn copy_out<'env>(
    &self,
    env: &'env Env,
    offset: usize,
    length: Option<usize>,
  ) -> ShmResult<Unknown<'env>> {
    let block = self.block()?;
    let span = self.span(block, offset, length)?;
    let copy = js::new_buffer(env, span.len())?;
    // SAFETY: the new Buffer is writable for `span.len()` bytes.
    unsafe { block.read(span.start, copy.ptr, span.len()) };
    Ok(copy.value)
  }

  fn copy_into(&self, target: &Unknown, offset: &Unknown) -> ShmResult<usize> {
    let block = self.block()?;
    let target = js::bytes(target)?
      .ok_or_else(|| js::wrong_type("target", "a Buffer, TypedArray or DataView", target))?;
    let offset = js::optional_index(offset, "offset")?.unwrap_or(0);
    let span = self.span(block, offset, None)?;
    let len = target.len.min(span.len());
    // SAFETY: JS memory is writable, and `target` is valid for `target.len >= len` bytes for the
    // rest of this call (see `js::bytes`); it may be a view of this block: `read` is a memmove.
    unsafe { block.read(offset, target.ptr.cast_mut(), len) };
    Ok(len)
  }

  fn view_buffer<'env>(&mut self, env: &'env Env) -> ShmResult<Unknown<'env>> {
    let block = self.writable_block()?;
    if self.view.is_none() {
      self.view = Some(View::create(
        env,
        block.segment(),
        block.size(),
        &self.name,
      )?);
    }
    self.view.as_ref().expect("made above").get(env)
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
