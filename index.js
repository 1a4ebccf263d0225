'use strict'

// The public entry point: the native class, exported the way 1.x exported it
// (`module.exports` is the class), plus `.default` and `.SharedMemory` for ES
// module and named imports. The generated loader `binding.js` finds the
// compiled addon for this platform.
const { Buffer, constants: bufferConstants } = require('node:buffer')
const { SharedMemory, waitAsyncStart, waitAsyncCancel } = require('./binding.js')

SharedMemory.default = SharedMemory
SharedMemory.SharedMemory = SharedMemory

const proto = SharedMemory.prototype
const native = {
  view: Object.getOwnPropertyDescriptor(proto, 'view').get,
  data: Object.getOwnPropertyDescriptor(proto, 'data'),
  buffer: Object.getOwnPropertyDescriptor(proto, 'buffer'),
  write: proto.write,
  read: proto.read,
  readBuffer: proto.readBuffer,
  readInto: proto.readInto,
}

// The 1.x members run in JavaScript over the block's view: a call into the
// addon costs more than copying a kilobyte, so the common cases copy through
// the view here and leave everything else (other argument types, errors, a
// closed or read-only block, a runtime without external buffers) to the addon,
// which checks it. Nothing is checked twice: each call takes one path.
const kView = Symbol('view')

/** The block's view, or null where the addon must do the work. */
function viewOf(memory) {
  let view = memory[kView]
  if (view === undefined) {
    try {
      // A block larger than a Buffer may be (4 GiB in Node 20) has no view: the addon copies.
      view = memory.size <= bufferConstants.MAX_LENGTH ? native.view.call(memory) : null
    } catch {
      view = null // read-only, closed, or no external buffers: the addon's paths say why
    }
    Object.defineProperty(memory, kView, { value: view, writable: true })
  }
  // close() detaches the view: from then on the addon answers (ERR_SHM_CLOSED).
  return view !== null && view.length !== 0 ? view : null
}

/** Whether `offset` is a byte offset inside `view` (else the addon reports why not). */
function isOffset(view, offset) {
  return Number.isSafeInteger(offset) && offset >= 0 && offset <= view.length
}

/** Writes `text` at `offset`, then a NUL if it ends before the block; false if it cannot. */
function writeString(memory, text, offset = 0) {
  const view = viewOf(memory)
  if (view === null || !isOffset(view, offset)) return false
  const room = view.length - offset
  let length
  if (text.length * 3 <= room) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: this string fits without measuring it.
    length = view.write(text, offset, 'utf8')
  } else {
    length = Buffer.byteLength(text, 'utf8')
    if (length > room) return false
    view.write(text, offset, length, 'utf8')
  }
  if (length < room) view[offset + length] = 0
  return true
}

/** Copies `bytes` (a Uint8Array) to `offset`; false if it cannot. */
function writeBytes(memory, bytes, offset = 0) {
  const view = viewOf(memory)
  if (view === null || !isOffset(view, offset) || bytes.length > view.length - offset) return false
  view.set(bytes, offset)
  return true
}

// Copies of small reads come from a pool, as Buffer.allocUnsafe's do from
// Node's 8 KiB pool, but a larger one: allocating the pool is what a 1 KiB
// read costs most, so here it is spread over 16 to 64 reads.
const POOL_SIZE = 64 * 1024
const POOLED = 4 * 1024
let pool = null
let poolUsed = POOL_SIZE

/** A new Buffer of `length` (at most POOLED) bytes, uninitialised: a slice of the pool. */
function allocate(length) {
  if (poolUsed + length > POOL_SIZE) {
    pool = Buffer.allocUnsafeSlow(POOL_SIZE).buffer // not zero-filled: every byte is copied over
    poolUsed = 0
  }
  const slice = Buffer.from(pool, poolUsed, length)
  poolUsed = (poolUsed + length + 7) & ~7 // keep slices 8-byte aligned, as Node's pool does
  return slice
}

// Strings are decoded from a private copy: V8 reads UTF-8 twice (to size the
// string, then to fill it) and must see the same bytes both times, which
// memory that other processes write cannot promise. The copy goes to one
// scratch buffer, reused.
let scratch = Buffer.allocUnsafeSlow(1024)

/** The string at the start of the block, or undefined if the addon must answer. */
function readString(memory) {
  const view = viewOf(memory)
  if (view === null) return undefined
  const nul = view.indexOf(0)
  const length = nul === -1 ? view.length : nul
  if (length > scratch.length) {
    if (length > POOL_SIZE) return native.data.get.call(memory) // rare and large: no scratch to keep
    scratch = Buffer.allocUnsafeSlow(POOL_SIZE)
  }
  view.copy(scratch, 0, 0, length)
  return scratch.toString('utf8', 0, length)
}

/** A copy of the whole block, or undefined if the addon must answer. */
function readAll(memory) {
  const view = viewOf(memory)
  if (view === null) return undefined
  const copy = view.length <= POOLED ? allocate(view.length) : Buffer.allocUnsafeSlow(view.length)
  view.copy(copy)
  return copy
}

Object.defineProperties(proto, {
  data: {
    get() {
      return readString(this) ?? native.data.get.call(this)
    },
    set(value) {
      if (typeof value !== 'string' || !writeString(this, value)) native.data.set.call(this, value)
    },
    configurable: true,
  },
  buffer: {
    get() {
      return readAll(this) ?? native.buffer.get.call(this)
    },
    set(value) {
      if (!(value instanceof Uint8Array) || !writeBytes(this, value)) native.buffer.set.call(this, value)
    },
    configurable: true,
  },
  view: {
    get() {
      return viewOf(this) ?? native.view.call(this)
    },
    configurable: true,
  },
  write: {
    value: function write(data, offset = 0) {
      const done = typeof data === 'string' ? writeString(this, data, offset) : data instanceof Uint8Array && writeBytes(this, data, offset)
      if (!done) native.write.call(this, data, offset)
    },
    writable: true,
    configurable: true,
  },
  readInto: {
    value: function readInto(target, offset = 0) {
      const view = viewOf(this)
      if (view !== null && target instanceof Uint8Array && isOffset(view, offset)) {
        return view.copy(target, 0, offset, offset + Math.min(target.length, view.length - offset))
      }
      return native.readInto.call(this, target, offset)
    },
    writable: true,
    configurable: true,
  },
  read: {
    value: function read(offset, length) {
      if (offset === undefined && length === undefined) {
        const text = readString(this)
        if (text !== undefined) return text
      }
      return native.read.call(this, offset, length)
    },
    writable: true,
    configurable: true,
  },
  readBuffer: {
    value: function readBuffer(offset, length) {
      if (offset === undefined && length === undefined) {
        const copy = readAll(this)
        if (copy !== undefined) return copy
      }
      return native.readBuffer.call(this, offset, length)
    },
    writable: true,
    configurable: true,
  },
})

/** The error an aborted `waitAsync` rejects with, shaped like Node's own. */
function abortError(signal) {
  const error = new Error('The operation was aborted', { cause: signal.reason })
  error.name = 'AbortError'
  error.code = 'ABORT_ERR'
  return error
}

// waitAsync: the promise and the AbortSignal live here; the native side checks
// the arguments, answers at once when there is nothing to wait for, and
// otherwise waits on a thread of its own and calls back when done.
Object.defineProperty(proto, 'waitAsync', {
  value: function waitAsync(offset, expected, timeoutMs, signal) {
    return new Promise((resolve, reject) => {
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        const error = new TypeError('signal must be an AbortSignal')
        error.code = 'ERR_INVALID_ARG_TYPE'
        throw error
      }
      if (signal?.aborted) throw abortError(signal)
      let onAbort
      const started = waitAsyncStart(this, offset, expected, timeoutMs, (error, result) => {
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(result)
      })
      if (typeof started === 'string') {
        resolve(started)
      } else if (signal) {
        onAbort = () => {
          waitAsyncCancel(this, started)
          reject(abortError(signal))
        }
        signal.addEventListener('abort', onAbort, { once: true })
      }
    })
  },
  writable: true,
  configurable: true,
})

// `using memory = new SharedMemory(...)` closes the block at the end of the
// scope, where the runtime has explicit resource management.
if (typeof Symbol.dispose === 'symbol') {
  Object.defineProperty(proto, Symbol.dispose, {
    value: function dispose() {
      this.close()
    },
    writable: true,
    configurable: true,
  })
}

module.exports = SharedMemory
