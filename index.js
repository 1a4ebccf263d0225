'use strict'

// The public entry point: the native class, exported the way 1.x exported it
// (`module.exports` is the class), plus `.default` and `.SharedMemory` for ES
// module and named imports. The generated loader `binding.js` finds the
// compiled addon for this platform.
const { SharedMemory, waitAsyncStart, waitAsyncCancel } = require('./binding.js')

SharedMemory.default = SharedMemory
SharedMemory.SharedMemory = SharedMemory

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
Object.defineProperty(SharedMemory.prototype, 'waitAsync', {
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
  Object.defineProperty(SharedMemory.prototype, Symbol.dispose, {
    value: function dispose() {
      this.close()
    },
    writable: true,
    configurable: true,
  })
}

module.exports = SharedMemory
