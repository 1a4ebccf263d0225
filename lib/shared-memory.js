'use strict'

// The SharedMemory class: the public surface. It checks every argument of the
// data members (write, read, readBuffer, readInto, data, buffer, view) and
// copies through the block's view; the addon (src/shared_memory.rs, the class
// NativeBlock) opens and closes the block, makes the view, and waits and
// notifies. Each member's checks live in one place: here for the data
// members, in the addon for the constructor, wait and notify.

const { Buffer, constants: bufferConstants } = require('node:buffer')
const binding = require('../binding.js')
const errors = require('./errors.js')
const { defineDispose } = require('./dispose.js')
const { bytesOf, byteLength } = require('./bytes.js')
const { allocate, scratchFor } = require('./pool.js')
const { ViewMemory, NativeMemory } = require('./memory.js')

const { NativeBlock } = binding
const { isView } = ArrayBuffer
const { compareExchange } = Atomics

// A lock is one 64-bit word of the block (src/lock.rs has its format): 0 when
// free, else the lock token of the thread that holds it. An uncontended lock
// and unlock are one compare-and-swap each, here, without calling the addon.
const LOCK_SIZE = 8
const toString = Buffer.prototype.toString
const MAX_INT32 = 2 ** 31 - 1

/** `expected` of wait/waitAsync as a number, as Atomics.wait coerces it (ToNumber). */
function toNumber(expected) {
  if (typeof expected === 'bigint' || typeof expected === 'symbol') {
    throw errors.invalidArgType('expected', 'a number', expected)
  }
  return +expected
}

/** An optional byte offset or length: undefined, or a non-negative safe integer. */
function optionalIndex(value, what) {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw errors.invalidArgType(what, 'a number', value)
  if (!Number.isSafeInteger(value) || value < 0) {
    throw errors.outOfRange(`${what} must be a non-negative safe integer, got ${value}`)
  }
  return value
}

/** `value` if it is a SharedMemory object; members called on anything else throw ERR_INVALID_THIS. */
let self

class SharedMemory {
  #native
  /** The block's lock words (a BigInt64Array over the view), false where it has no view. */
  #locks = null
  /** This thread's lock token, marked alive in this block (0n until the first lock call). */
  #token = 0n
  /** name, size, host, global, id, readOnly: asked of the addon once, when first needed. */
  #description = null
  #closed = false
  /** How this object reaches the bytes: made on first use, dropped by close(). */
  #memory = null
  /** The zero-copy view, once made (never made for read-only blocks' users). */
  #view = null

  /**
   * `new SharedMemory(name, sizeInBytes, global = false, host = true)` (1.x)
   * or `new SharedMemory(name, options)`.
   */
  constructor(name, sizeOrOptions, global, host) {
    this.#native = new NativeBlock(name, sizeOrOptions, global, host)
  }

  static {
    self = (value) => {
      if (typeof value !== 'object' || value === null || !(#native in value)) throw errors.invalidThis()
      return value
    }
  }

  /** The bytes one lock takes in a block; a lock's offset is a multiple of it. */
  static get LOCK_SIZE() {
    return LOCK_SIZE
  }

  static generateId(global) {
    return binding.generateId(global)
  }

  static generateIdAsync(global) {
    return binding.generateIdAsync(global).catch((error) => {
      throw errors.idFailed(error)
    })
  }

  /** Removes the block named `name` (a leftover after a crash); returns whether there was one. */
  static unlink(name, global) {
    return binding.unlinkBlock(name, global)
  }

  /** Whether a block named `name` exists. */
  static exists(name, global) {
    return binding.blockExists(name, global)
  }

  get size() {
    return self(this).#describe().size
  }

  get name() {
    return self(this).#describe().name
  }

  get host() {
    return self(this).#describe().host
  }

  get global() {
    return self(this).#describe().global
  }

  get id() {
    return self(this).#describe().id
  }

  get closed() {
    return self(this).#closed
  }

  /**
   * The description 1.x objects carried as their own properties, which JSON.stringify then
   * listed: size, name, host, global and id.
   */
  toJSON() {
    const { size, name, host, global, id } = self(this).#describe()
    return { size, name, host, global, id }
  }

  get readOnly() {
    return self(this).#describe().readOnly
  }

  /** A Buffer over the whole block, without copying. */
  get view() {
    // Made once: #view is set only for an open, writable block, and close() clears it.
    const made = self(this).#view
    if (made !== null) return made
    const { name, size } = this.#describe()
    if (this.#closed) throw errors.closed(name)
    if (this.#describe().readOnly) throw errors.readOnly(name)
    if (size > bufferConstants.MAX_LENGTH) throw errors.bufferTooLarge(name, size, bufferConstants.MAX_LENGTH)
    this.#memoryOf()
    return this.#view
  }

  /** The string at the start of the block, up to the first NUL or the end. */
  get data() {
    return self(this).#readText(0, this.#describe().size)
  }

  set data(value) {
    self(this)
    if (typeof value !== 'string') throw errors.invalidArgType('data', 'a string', value)
    this.#writeText(value, 0)
  }

  /** A new Buffer holding a copy of the whole block. */
  get buffer() {
    return self(this).#copy(0, this.#describe().size)
  }

  set buffer(value) {
    self(this)
    const bytes = bytesOf(value)
    if (bytes === null) throw errors.invalidArgType('buffer', 'a Buffer', value)
    this.#writeBytes(bytes, 0)
  }

  /**
   * Writes a string (followed by a NUL when it ends before the block does) or
   * binary data at `offset`.
   */
  write(data, offset = 0) {
    self(this)
    if (typeof data === 'string') {
      this.#writeText(data, optionalIndex(offset, 'offset'))
      return
    }
    const bytes = bytesOf(data)
    if (bytes === null) {
      throw errors.invalidArgType('data', 'a string, Buffer, TypedArray, DataView or ArrayBuffer', data)
    }
    this.#writeBytes(bytes, optionalIndex(offset, 'offset'))
  }

  /** The string at `offset`: up to the first NUL, `length` bytes, or the end of the block. */
  read(offset, length) {
    self(this)
    const start = optionalIndex(offset, 'offset') ?? 0
    return this.#readText(start, this.#end(start, optionalIndex(length, 'length')))
  }

  /** A new Buffer holding a copy of `length` bytes at `offset` (default: the rest of the block). */
  readBuffer(offset, length) {
    self(this)
    const start = optionalIndex(offset, 'offset') ?? 0
    return this.#copy(start, this.#end(start, optionalIndex(length, 'length')))
  }

  /** Copies bytes from `offset` into `target` (as many as fit); returns how many. */
  readInto(target, offset = 0) {
    self(this)
    const bytes = isView(target) ? bytesOf(target) : null
    if (bytes === null) throw errors.invalidArgType('target', 'a Buffer, TypedArray or DataView', target)
    const start = optionalIndex(offset, 'offset')
    const end = this.#end(start, undefined)
    const length = Math.min(byteLength(bytes), end - start)
    const memory = this.#memoryOf()
    if (length !== 0) memory.read(start, length, bytes)
    return length
  }

  /**
   * If the 32-bit integer at `offset` equals `expected`, sleeps until a
   * `notify` on that offset (from any process) or `timeoutMs`.
   */
  wait(offset, expected, timeoutMs) {
    // `expected` is coerced here, before the addon is called: its valueOf may
    // run any code, close() included, which the addon then sees as closed.
    return self(this).#native.wait(offset, toNumber(expected), timeoutMs)
  }

  notify(offset, count) {
    return self(this).#native.notify(offset, count)
  }

  /**
   * Like `wait`, as a Promise; the event loop stays free. An aborted `signal`
   * rejects it with an AbortError.
   */
  waitAsync(offset, expected, timeoutMs, signal) {
    let settle
    let started
    try {
      self(this)
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw errors.invalidArgType('signal', 'an AbortSignal', signal)
      }
      if (signal?.aborted) throw errors.abortError(signal)
      started = this.#native.waitAsync(offset, toNumber(expected), timeoutMs, (error, result) => settle(error, result))
    } catch (error) {
      return Promise.reject(error)
    }
    // Nothing to wait for: no more than a resolved promise.
    if (typeof started === 'string') return Promise.resolve(started)
    return new Promise((resolve, reject) => {
      let onAbort
      settle = (error, result) => {
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(result)
      }
      if (signal) {
        onAbort = () => {
          this.#native.cancelWaitAsync(started)
          reject(errors.abortError(signal))
        }
        try {
          signal.addEventListener('abort', onAbort, { once: true })
        } catch (error) {
          // Without a listener nothing could ever stop this wait: stop it now.
          this.#native.cancelWaitAsync(started)
          throw error
        }
      }
    })
  }

  /**
   * Takes the lock at `offset` (a multiple of LOCK_SIZE), sleeping while
   * another thread, of any process, holds it: 'acquired', 'owner-died' (taken
   * over from an owner that died holding it) or 'timed-out'.
   */
  lock(offset, timeoutMs) {
    const index = self(this).#lockIndex(offset, timeoutMs)
    if (index >= 0 && compareExchange(this.#locks, index, 0n, this.#token) === 0n) return 'acquired'
    return this.#native.lock(offset, timeoutMs)
  }

  /** Like `lock`, without waiting: 'acquired', 'owner-died' or 'busy'. */
  tryLock(offset) {
    const index = self(this).#lockIndex(offset, undefined)
    if (index >= 0 && compareExchange(this.#locks, index, 0n, this.#token) === 0n) return 'acquired'
    return this.#native.tryLock(offset)
  }

  /** Frees the lock at `offset`, which this thread holds. */
  unlock(offset) {
    const index = self(this).#lockIndex(offset, undefined)
    const token = this.#token
    if (index >= 0 && compareExchange(this.#locks, index, token, 0n) === token) return
    // A waiter sleeps (it must be woken), or this thread does not hold the lock.
    this.#native.unlock(offset)
  }

  /**
   * Like `lock`, as a Promise; the event loop stays free. An aborted `signal`
   * rejects it with an AbortError and leaves the lock as it was.
   */
  lockAsync(offset, timeoutMs, signal) {
    let settle
    let started
    try {
      const index = self(this).#lockIndex(offset, timeoutMs)
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw errors.invalidArgType('signal', 'an AbortSignal', signal)
      }
      if (signal?.aborted) throw errors.abortError(signal)
      if (index >= 0 && compareExchange(this.#locks, index, 0n, this.#token) === 0n) return Promise.resolve('acquired')
      started = this.#native.lockAsync(offset, timeoutMs, (error, result) => settle(error, result))
    } catch (error) {
      return Promise.reject(error)
    }
    if (typeof started === 'string') return Promise.resolve(started)
    return new Promise((resolve, reject) => {
      let onAbort
      let aborted = false
      settle = (error, result) => {
        signal?.removeEventListener('abort', onAbort)
        if (aborted) {
          // Taken by the thread just before the abort: give it back as it was. (Closed since,
          // nothing can be given back through this handle: the lock stays this thread's while
          // it holds the block open elsewhere, and counts as abandoned after that.)
          try {
            if (result === 'acquired') this.#native.unlock(offset)
            else if (result === 'owner-died') this.#native.abandonLock(offset)
          } catch (error) {
            if (error?.code !== 'ERR_SHM_CLOSED') throw error
          }
        } else if (error) reject(error)
        else resolve(result)
      }
      if (signal) {
        onAbort = () => {
          aborted = true
          this.#native.cancelWaitAsync(started)
          reject(errors.abortError(signal))
        }
        try {
          signal.addEventListener('abort', onAbort, { once: true })
        } catch (error) {
          // Without a listener nothing could ever stop this wait: stop it now.
          aborted = true
          this.#native.cancelWaitAsync(started)
          throw error
        }
      }
    })
  }

  /**
   * Lets go of the block now: its pages and (for a host) its name. A view
   * that is still referenced keeps its addresses and length, over private
   * zero-filled memory (see docs/architecture.md).
   */
  close() {
    if (self(this).#closed) return
    this.#closed = true
    this.#memory = null
    this.#view = null
    this.#locks = null
    this.#native.close()
  }

  /** Removes the block's name now; this object and every attached process keep working. */
  unlink() {
    self(this).#native.unlink()
  }

  [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) {
    const { name, size, host } = self(this).#describe()
    const state = { name, size, host, closed: this.#closed }
    return `SharedMemory ${inspect(state, options)}`
  }

  #describe() {
    // A block that is only created and closed never pays for the description.
    return (this.#description ??= this.#native.describe())
  }

  /** How to reach the bytes; throws once closed. */
  #memoryOf() {
    if (this.#memory !== null) return this.#memory
    if (this.#closed) throw errors.closed(this.#describe().name)
    const { size, readOnly } = this.#describe()
    if (readOnly || size > bufferConstants.MAX_LENGTH) {
      // No JavaScript value may reach read-only memory (a write through it is a SIGSEGV), and a
      // Buffer cannot be that large: the addon copies.
      this.#memory = new NativeMemory(this.#native)
    } else {
      this.#view = this.#native.view()
      this.#memory = new ViewMemory(this.#view)
    }
    return this.#memory
  }

  /** The memory for a write; throws when closed or read-only. */
  #writable() {
    if (this.#closed) throw errors.closed(this.#describe().name)
    if (this.#describe().readOnly) throw errors.readOnly(this.#describe().name)
    return this.#memoryOf()
  }

  /**
   * The index in #locks of the lock at `offset` (-1 where the block has no
   * view: the addon then does all), after the checks every lock member makes.
   */
  #lockIndex(offset, timeoutMs) {
    const start = optionalIndex(offset, 'offset') ?? 0
    if (timeoutMs !== undefined && typeof timeoutMs !== 'number') {
      throw errors.invalidArgType('timeoutMs', 'a number', timeoutMs)
    }
    if (this.#closed) throw errors.closed(this.#describe().name)
    if (this.#locks === null) this.#prepareLocks()
    const { size, name } = this.#describe()
    if (start % LOCK_SIZE !== 0 || start > size - LOCK_SIZE) {
      throw errors.outOfRange(`offset must be a multiple of SharedMemory.LOCK_SIZE (${LOCK_SIZE}) with the lock inside shared memory block "${name}" of ${size} bytes, got ${start}`)
    }
    return this.#locks === false ? -1 : start / LOCK_SIZE
  }

  /** Marks this thread alive as a lock owner in the block; makes #locks. */
  #prepareLocks() {
    const { readOnly, name } = this.#describe()
    if (readOnly) throw errors.readOnly(name)
    this.#token = this.#native.lockToken()
    const memory = this.#memoryOf()
    if (memory instanceof ViewMemory) {
      const view = this.#view
      this.#locks = new BigInt64Array(view.buffer, view.byteOffset, Math.floor(view.length / LOCK_SIZE))
    } else {
      this.#locks = false
    }
  }

  /** Where `length` bytes from `start` end; both already checked to be indices. */
  #end(start, length) {
    const { name, size } = this.#describe()
    if (this.#closed) throw errors.closed(name)
    if (start > size) {
      throw errors.outOfRange(`offset ${start} is outside shared memory block "${name}" of ${size} bytes`)
    }
    if (length === undefined) return size
    if (length > size - start) {
      throw errors.outOfRange(`${length} bytes at offset ${start} reach past the end of shared memory block "${name}" of ${size} bytes`)
    }
    return start + length
  }

  #copy(start, end) {
    const memory = this.#memoryOf()
    // Only in a block larger than a Buffer may be (over 4 GiB on Node 20).
    if (end - start > bufferConstants.MAX_LENGTH) {
      throw errors.copyTooLarge(this.#describe().name, start, end - start, bufferConstants.MAX_LENGTH)
    }
    const copy = allocate(end - start)
    memory.read(start, end - start, copy)
    return copy
  }

  #readText(start, end) {
    const memory = this.#memoryOf()
    const length = memory.textLength(start, end)
    // V8 cannot even try to decode more than 2^31 - 1 bytes (it aborts the process).
    if (length > MAX_INT32) throw errors.stringTooLong(this.#describe().name, start, length)
    const buffer = scratchFor(length)
    memory.read(start, length, buffer)
    try {
      return toString.call(buffer, 'utf8', 0, length)
    } catch (error) {
      if (error?.code !== 'ERR_STRING_TOO_LONG') throw error
      throw errors.stringTooLong(this.#describe().name, start, length)
    }
  }

  #writeText(text, offset) {
    const memory = this.#writable()
    const room = this.#end(offset, undefined) - offset
    const length = memory.writeText(text, offset, room)
    if (length > room) throw errors.tooLarge('string', length, room, this.#describe().name)
    if (length < room) memory.writeByte(offset + length, 0)
  }

  #writeBytes(bytes, offset) {
    const memory = this.#writable()
    const room = this.#end(offset, undefined) - offset
    const length = byteLength(bytes) // 0 for a detached buffer: nothing to copy
    if (length > room) throw errors.tooLarge('data', length, room, this.#describe().name)
    if (length !== 0) memory.write(bytes, offset)
  }
}

// `using memory = new SharedMemory(...)` closes the block at the end of the
// scope, where the runtime has explicit resource management.
defineDispose(SharedMemory.prototype, (memory) => self(memory).close())

module.exports = SharedMemory
