//! `NativeBlock`, the addon's one class: argument handling for what only the addon can do (open a
//! block, wait and notify, close), and nothing else. The public `SharedMemory` class is
//! `lib/shared-memory.js`; it checks the arguments of the data members itself and copies through
//! the view. The work is done by [`Block`], [`View`] and [`wait`].
#![cfg_attr(
  test,
  allow(
    dead_code,
    reason = "napi-rs registers the module functions outside tests"
  )
)]

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::block::Block;
use crate::error::{OrThrow, ShmError, ShmResult};
use crate::id;
use crate::js;
use crate::lock;
use crate::name::{os_name, Platform};
use crate::options::{Create, Options};
use crate::os::{self, Access};
use crate::rules::range;
use crate::view::View;
use crate::wait::{self, PendingWaits};

/// One block as the addon holds it for one `SharedMemory` object.
#[napi(js_name = "NativeBlock", custom_finalize)]
pub struct NativeBlock {
  /// `None` once closed.
  block: Option<Block>,
  /// The zero-copy view, made on first use.
  view: Option<View>,
  /// The `waitAsync` calls in flight, to cancel on abort or `close()`.
  waits: PendingWaits,
  name: String,
  global: bool,
  host: bool,
  /// Kept after `close()`, like the other properties that describe the block.
  size: usize,
  read_only: bool,
}

/// What `lib/shared-memory.js` keeps of a block, read once after it is opened.
#[napi(object)]
pub struct Description {
  pub name: String,
  pub size: f64,
  pub host: bool,
  pub global: bool,
  pub id: String,
  pub read_only: bool,
}

#[napi]
impl NativeBlock {
  /// `(name, sizeInBytes, global = false, host = true)` or `(name, options)`.
  #[napi(constructor)]
  pub fn new(
    env: &Env,
    name: Unknown,
    size_or_options: Unknown,
    global: Unknown,
    host: Unknown,
  ) -> Result<NativeBlock> {
    Options::parse(&name, &size_or_options, &global, &host)
      .and_then(NativeBlock::open)
      .or_throw(env)
  }

  /// The block's name, size, role and OS name.
  #[napi]
  pub fn describe(&self) -> Description {
    Description {
      name: self.name.clone(),
      size: self.size as f64,
      host: self.host,
      global: self.global,
      id: os_name(&self.name, self.global, Platform::CURRENT).unwrap_or_default(),
      read_only: self.read_only,
    }
  }

  /// A Buffer over the whole block, without copying; the same one on every call. A read-only
  /// block has none: a write through it would be a SIGSEGV.
  #[napi]
  pub fn view<'env>(&mut self, env: &'env Env) -> Result<Unknown<'env>> {
    self.view_buffer(env).or_throw(env)
  }

  /// Copies `target.length` bytes at `offset` into `target`, for a block that has no view (one
  /// larger than a Buffer may be). `lib/` has checked the range; it is checked again here only
  /// because memory safety depends on it.
  #[napi]
  pub fn copy_out(&self, env: &Env, target: Unknown, offset: f64) -> Result<()> {
    self.copy(&target, offset, Direction::Out).or_throw(env)
  }

  /// Copies `source` to `offset`, for a block that has no view; as [`NativeBlock::copy_out`].
  #[napi]
  pub fn copy_in(&self, env: &Env, source: Unknown, offset: f64) -> Result<()> {
    self.copy(&source, offset, Direction::In).or_throw(env)
  }

  /// The length of the text at `offset`: up to the first NUL, at most `max` bytes; for a block
  /// that has no view.
  #[napi]
  pub fn text_length(&self, env: &Env, offset: f64, max: f64) -> Result<f64> {
    let length = (|| {
      let block = self.block()?;
      let span = self.checked_span(block, offset, max)?;
      Ok(block.strlen(span.start, span.len()) as f64)
    })();
    length.or_throw(env)
  }

  /// If the 32-bit integer at `offset` equals `expected`, sleeps until a `notify` on that offset
  /// (from any process) or `timeoutMs`; blocks the calling thread, like `Atomics.wait`.
  #[napi]
  pub fn wait(
    &self,
    env: &Env,
    offset: Unknown,
    expected: Unknown,
    timeout_ms: Unknown,
  ) -> Result<&'static str> {
    self
      .wait_now(env, &offset, &expected, &timeout_ms)
      .or_throw(env)
  }

  /// Wakes up to `count` waiters on `offset`, in every process; returns how many woke.
  #[napi]
  pub fn notify(&self, env: &Env, offset: Unknown, count: Unknown) -> Result<f64> {
    self
      .notify_now(&offset, &count)
      .map(|n| n as f64)
      .or_throw(env)
  }

  /// Starts a `waitAsync` (the promise is made in `lib/`): returns its result at once when there
  /// is nothing to wait for, or the id `cancelWaitAsync` takes; `settle(error, result)` is called
  /// when it ends. `settle` becomes a threadsafe function only when a thread must wait: an
  /// immediate answer costs no more than a resolved promise.
  #[napi(
    ts_args_type = "offset: number, expected: number, timeoutMs: number | undefined, settle: (error: Error | null, result: string) => void",
    ts_return_type = "string | number"
  )]
  pub fn wait_async(
    &mut self,
    env: &Env,
    offset: Unknown,
    expected: Unknown,
    timeout_ms: Unknown,
    settle: Unknown,
  ) -> Result<Either<&'static str, u32>> {
    self
      .start_async_wait(&offset, &expected, &timeout_ms, &settle)
      .or_throw(env)
  }

  /// Stops the `waitAsync` with id `id` (its signal was aborted; `lib/` rejects the promise).
  #[napi]
  pub fn cancel_wait_async(&mut self, id: u32) {
    self.waits.cancel(id);
  }

  /// The calling thread's lock token, as a BigInt, marked alive in this block: with it `lib/`
  /// takes and frees an uncontended lock itself, without calling the addon.
  #[napi]
  pub fn lock_token(&self, env: &Env) -> Result<BigInt> {
    self
      .locker(None)
      .map(|(_, _, token)| BigInt::from(token))
      .or_throw(env)
  }

  /// Takes the lock at `offset`, sleeping while a live owner holds it, until `timeoutMs`.
  #[napi]
  pub fn lock(&self, env: &Env, offset: Unknown, timeout_ms: Unknown) -> Result<&'static str> {
    self.lock_now(env, &offset, &timeout_ms).or_throw(env)
  }

  /// Takes the lock at `offset` if it is free or its owner died; never sleeps.
  #[napi]
  pub fn try_lock(&self, env: &Env, offset: Unknown) -> Result<&'static str> {
    let tried = (|| {
      let (block, offset, token) = self.locker(Some(&offset))?;
      lock::try_lock(block.segment(), offset, token)
        .map(lock::Outcome::name)
        .map_err(|e| ShmError::from_os(&self.name, e))
    })();
    tried.or_throw(env)
  }

  /// Frees the lock at `offset`, which the calling thread holds.
  #[napi]
  pub fn unlock(&self, env: &Env, offset: Unknown) -> Result<()> {
    self.free_lock(&offset, lock::unlock).or_throw(env)
  }

  /// Frees the lock at `offset`, which the calling thread took over from a dead owner for a
  /// `lockAsync` that was aborted meanwhile: the next locker still learns that the owner died.
  #[napi]
  pub fn abandon_lock(&self, env: &Env, offset: Unknown) -> Result<()> {
    self.free_lock(&offset, lock::abandon).or_throw(env)
  }

  /// Starts a `lockAsync` (the promise is made in `lib/`): returns its result at once when it
  /// need not wait, or the id `cancelWaitAsync` takes; `settle(error, result)` is called when it
  /// ends. A lock taken for a call that was cancelled meanwhile is freed again.
  #[napi(
    ts_args_type = "offset: number, timeoutMs: number | undefined, settle: (error: Error | null, result: string) => void",
    ts_return_type = "string | number"
  )]
  pub fn lock_async(
    &mut self,
    env: &Env,
    offset: Unknown,
    timeout_ms: Unknown,
    settle: Unknown,
  ) -> Result<Either<&'static str, u32>> {
    self
      .start_async_lock(&offset, &timeout_ms, &settle)
      .or_throw(env)
  }

  /// Lets go of the block now: pending waits are rejected, the pages leave this process (private
  /// memory takes their place under any view that JS still holds: see `os::Segment::release`),
  /// and a host removes the name.
  #[napi]
  pub fn close(&mut self, env: &Env) -> Result<()> {
    self.waits.cancel_all(Some(&self.name));
    if let Some(view) = self.view.take() {
      view.release(env);
    }
    let Some(block) = self.block.take() else {
      return Ok(());
    };
    block
      .release()
      .map_err(|e| ShmError::from_os(&self.name, e))
      .or_throw(env)
  }

  /// Removes the block's name now; this object and every attached process keep working.
  #[napi]
  pub fn unlink(&mut self, env: &Env) -> Result<()> {
    let name = &self.name;
    let unlinked = match self.block.as_mut() {
      None => Err(ShmError::Closed { name: name.clone() }),
      Some(block) => block
        .unlink()
        .map(drop)
        .map_err(|e| ShmError::from_os(name, e)),
    };
    unlinked.or_throw(env)
  }
}

/// Removes the block named `name` (a leftover after a crash); returns whether there was one.
#[napi]
pub fn unlink_block(env: &Env, name: Unknown, global: Unknown) -> Result<bool> {
  let unlinked =
    os_name_of(&name, &global).and_then(|(name, os_name)| match os::unlink(&os_name) {
      Ok(()) => Ok(true),
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
      Err(e) => Err(ShmError::from_os(&name, e)),
    });
  unlinked.or_throw(env)
}

/// Whether a block named `name` exists.
#[napi]
pub fn block_exists(env: &Env, name: Unknown, global: Unknown) -> Result<bool> {
  let exists = os_name_of(&name, &global)
    .and_then(|(name, os_name)| os::exists(&os_name).map_err(|e| ShmError::from_os(&name, e)));
  exists.or_throw(env)
}

/// How many `waitAsync` calls of this process on block `name` the kernel holds now, in the
/// process's wait ring; `null` where waits take threads instead (for the tests, which look at
/// those threads in `/proc`).
#[napi]
pub fn waits_in_kernel(name: String) -> Option<u32> {
  os::WaitRing::get().map(|ring| u32::try_from(ring.armed(&name)).unwrap_or(u32::MAX))
}

/// A name for a new block that no existing block uses.
#[napi]
pub fn generate_id(env: &Env, global: Unknown) -> Result<String> {
  let global = js::optional_bool(&global, "global", false).or_throw(env)?;
  id::generate(global).map_err(ShmError::Id).or_throw(env)
}

/// `generateId` on the libuv thread pool.
#[napi(ts_return_type = "Promise<string>")]
pub fn generate_id_async(env: &Env, global: Unknown) -> Result<AsyncTask<id::GenerateId>> {
  let global = js::optional_bool(&global, "global", false).or_throw(env)?;
  Ok(AsyncTask::new(id::GenerateId::new(global)))
}

/// The validated name and OS name given to a static method.
fn os_name_of(name: &Unknown, global: &Unknown) -> ShmResult<(String, String)> {
  let name = js::string(name, "name")?;
  let global = js::optional_bool(global, "global", false)?;
  let os_name =
    os_name(&name, global, Platform::CURRENT).map_err(|e| ShmError::invalid_name(&name, e))?;
  Ok((name, os_name))
}

impl ObjectFinalize for NativeBlock {
  fn finalize(mut self, env: Env) -> Result<()> {
    // Only an exiting environment finalizes an object with waits in flight (each pending
    // `waitAsync` callback holds the object): there is no one left to settle them for.
    self.waits.cancel_all(None);
    // The view Buffer may outlive this object; it keeps the mapping alive itself.
    if let Some(view) = self.view.take() {
      view.release(&env);
    }
    Ok(())
  }
}

/// Which way [`NativeBlock::copy`] copies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
  /// From the block into JS memory.
  Out,
  /// From JS memory into the block.
  In,
}

impl NativeBlock {
  fn open(options: Options) -> ShmResult<NativeBlock> {
    let Options {
      name,
      size,
      create,
      global,
      mode,
      read_only,
      reclaim,
    } = options;
    let os_name =
      os_name(&name, global, Platform::CURRENT).map_err(|e| ShmError::invalid_name(&name, e))?;
    let access = match read_only {
      true => Access::ReadOnly,
      false => Access::ReadWrite,
    };
    let os_error = |e| ShmError::from_os(&name, e);
    let (mut block, host) = match (create, size) {
      (Create::Always, Some(size)) => (
        Block::create(&os_name, size, mode, reclaim).map_err(os_error)?,
        true,
      ),
      (Create::IfMissing, Some(size)) => {
        Block::create_or_open(&os_name, size, mode, access, reclaim).map_err(os_error)?
      }
      _ => (
        Block::open(&os_name, access, size, false).map_err(os_error)?,
        false,
      ),
    };
    let wanted = size.unwrap_or(1);
    if !host {
      if block.size() < wanted {
        return Err(ShmError::TooLarge(match size {
          Some(_) => format!(
            "shared memory block \"{name}\" has {} bytes, fewer than the {wanted} asked for",
            block.size()
          ),
          // Attached without a size: an empty object, which its creator never sized.
          None => {
            format!("shared memory block \"{name}\" has 0 bytes: its creator never gave it a size")
          }
        }));
      }
      block.truncate(size.unwrap_or(block.size()));
    }
    Ok(NativeBlock {
      size: block.size(),
      read_only: block.is_read_only(),
      block: Some(block),
      view: None,
      waits: PendingWaits::default(),
      name,
      global,
      host,
    })
  }

  /// The block, unless closed.
  fn block(&self) -> ShmResult<&Block> {
    self.block.as_ref().ok_or_else(|| ShmError::Closed {
      name: self.name.clone(),
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
    env: &Env,
    offset: &Unknown,
    expected: &Unknown,
    timeout_ms: &Unknown,
  ) -> ShmResult<&'static str> {
    let offset = self.word_offset(self.block()?, offset)?;
    // Coercing `expected` may run JS (`valueOf`), which may close this block: borrow it after.
    let expected = wait::expected(expected)?;
    let deadline = wait::deadline(timeout_ms)?;
    let block = self.block()?;
    // A worker blocked here must end when it is terminated: `Atomics.wait` is woken then, this
    // sleep is not, so it asks V8 every slice.
    let terminating = || js::is_terminating(env);
    let outcome = block
      .segment()
      .wait(offset, expected, deadline, &terminating)
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
    settle: &Unknown,
  ) -> ShmResult<Either<&'static str, u32>> {
    let offset = self.word_offset(self.block()?, offset)?;
    let expected = wait::expected(expected)?;
    let deadline = wait::deadline(timeout_ms)?;
    let block = self.block()?;
    if let Some(outcome) = os::before_async_sleep(block.word(offset), expected, deadline) {
      return Ok(Either::A(wait::outcome_name(outcome)));
    }
    let job = wait::Job::new(
      std::sync::Arc::clone(block.segment()),
      &self.name,
      offset,
      expected,
      deadline,
      wait::settle_callback(settle)?,
    );
    let id = self.waits.add(&job);
    wait::start(job)?;
    Ok(Either::B(id))
  }

  /// The block, the offset of a lock in it, and the calling thread's lock token, marked alive in
  /// the block; a block opened read-only cannot be locked. `None`: the block only.
  fn locker(&self, offset: Option<&Unknown>) -> ShmResult<(&Block, usize, u64)> {
    let block = self.block()?;
    if block.is_read_only() {
      return Err(ShmError::ReadOnly {
        name: self.name.clone(),
      });
    }
    let offset = match offset {
      Some(offset) => self.lock_offset(block, offset)?,
      None => 0,
    };
    let os_error = |e| ShmError::from_os(&self.name, e);
    let token = os::lock_token().map_err(os_error)?;
    block.segment().mark_owner(token).map_err(os_error)?;
    Ok((block, offset, token))
  }

  /// The byte offset of a lock: a multiple of [`lock::LOCK_SIZE`] inside the block (`lib/`
  /// checks it first; checked again because memory safety depends on it).
  fn lock_offset(&self, block: &Block, offset: &Unknown) -> ShmResult<usize> {
    let offset = js::optional_index(offset, "offset")?.unwrap_or(0);
    if !offset.is_multiple_of(lock::LOCK_SIZE)
      || range(offset, lock::LOCK_SIZE, block.size()).is_none()
    {
      return Err(ShmError::OutOfRange(format!(
        "offset must be a multiple of SharedMemory.LOCK_SIZE ({}) with the lock inside shared memory block \"{}\" of {} bytes, got {offset}",
        lock::LOCK_SIZE,
        self.name,
        block.size()
      )));
    }
    Ok(offset)
  }

  fn lock_now(&self, env: &Env, offset: &Unknown, timeout_ms: &Unknown) -> ShmResult<&'static str> {
    let (block, offset, token) = self.locker(Some(offset))?;
    let deadline = wait::deadline(timeout_ms)?;
    // A worker blocked here must end when it is terminated (see `wait_now`).
    let terminating = || js::is_terminating(env);
    let outcome = lock::lock(
      block.segment(),
      offset,
      token,
      lock::Caller::Blocking,
      deadline,
      &terminating,
    )
    .map_err(|e| ShmError::from_os(&self.name, e))?;
    if outcome == lock::Outcome::Deadlock {
      return Err(ShmError::Deadlock {
        name: self.name.clone(),
        offset,
      });
    }
    Ok(outcome.name())
  }

  fn free_lock(
    &self,
    offset: &Unknown,
    free: fn(&os::Segment, usize, u64) -> std::io::Result<std::result::Result<(), lock::NotOwner>>,
  ) -> ShmResult<()> {
    let (block, offset, token) = self.locker(Some(offset))?;
    free(block.segment(), offset, token)
      .map_err(|e| ShmError::from_os(&self.name, e))?
      .map_err(|_| ShmError::NotOwner {
        name: self.name.clone(),
        offset,
      })
  }

  fn start_async_lock(
    &mut self,
    offset: &Unknown,
    timeout_ms: &Unknown,
    settle: &Unknown,
  ) -> ShmResult<Either<&'static str, u32>> {
    let (block, offset, token) = self.locker(Some(offset))?;
    let deadline = wait::deadline(timeout_ms)?;
    let os_error = |e| ShmError::from_os(&self.name, e);
    match lock::try_lock(block.segment(), offset, token).map_err(os_error)? {
      lock::Outcome::Busy if deadline.is_some_and(|d| d <= std::time::Instant::now()) => {
        return Ok(Either::A(lock::Outcome::TimedOut.name()))
      }
      lock::Outcome::Busy => {}
      taken => return Ok(Either::A(taken.name())),
    }
    let job = wait::Job::lock(
      std::sync::Arc::clone(block.segment()),
      &self.name,
      offset,
      token,
      deadline,
      wait::settle_callback(settle)?,
    );
    let id = self.waits.add(&job);
    wait::start(job)?;
    Ok(Either::B(id))
  }

  /// `offset..offset + length` inside the block, from numbers `lib/` has checked.
  fn checked_span(
    &self,
    block: &Block,
    offset: f64,
    length: f64,
  ) -> ShmResult<std::ops::Range<usize>> {
    let index =
      |n: f64| (n >= 0.0 && n.fract() == 0.0 && n <= usize::MAX as f64).then_some(n as usize);
    index(offset)
      .zip(index(length))
      .and_then(|(offset, length)| range(offset, length, block.size()))
      .ok_or_else(|| {
        ShmError::OutOfRange(format!(
          "{length} bytes at offset {offset} are not inside shared memory block \"{}\" of {} bytes",
          self.name,
          block.size()
        ))
      })
  }

  fn copy(&self, bytes: &Unknown, offset: f64, direction: Direction) -> ShmResult<()> {
    let block = self.block()?;
    let bytes = js::bytes(bytes)?
      .ok_or_else(|| js::wrong_type("data", "a TypedArray, DataView or ArrayBuffer", bytes))?;
    let span = self.checked_span(block, offset, bytes.len as f64)?;
    match direction {
      // SAFETY: JS memory is writable, and `bytes` is valid for `bytes.len == span.len()` bytes
      // for the rest of this call (see `js::bytes`); it may be a view of this block: `read` is a
      // memmove.
      Direction::Out => unsafe { block.read(span.start, bytes.ptr.cast_mut(), span.len()) },
      Direction::In => {
        if block.is_read_only() {
          return Err(ShmError::ReadOnly {
            name: self.name.clone(),
          });
        }
        // SAFETY: `bytes` is readable for `span.len()` bytes for the rest of this call (see
        // `js::bytes`); the range was checked above and the block is writable.
        unsafe { block.write(span.start, bytes.ptr, span.len()) }
      }
    }
    Ok(())
  }

  fn view_buffer<'env>(&mut self, env: &'env Env) -> ShmResult<Unknown<'env>> {
    let block = self.block()?;
    if block.is_read_only() {
      return Err(ShmError::ReadOnly {
        name: self.name.clone(),
      });
    }
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
}
