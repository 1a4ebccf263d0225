'use strict'

// Small copies (readBuffer, buffer) come from a pool, as Buffer.allocUnsafe's
// do from Node's 8 KiB pool, but a larger one: allocating is what a 1 KiB read
// costs most, so here it is spread over 16 to 64 reads. Like Node's, the pool
// is marked untransferable: a copy that is transferred (postMessage,
// structuredClone with a transfer list) is copied instead, so no other copy
// from the same pool can be emptied by it.

const { Buffer } = require('node:buffer')
const { markAsUntransferable } = require('node:worker_threads')

// Taken when this module loads: later changes to the globals do not reach here.
const { allocUnsafeSlow, from: bufferFrom } = Buffer

const POOL_SIZE = 64 * 1024
/** Copies up to this many bytes come from the pool. */
const POOLED = 4 * 1024

let pool = null
let used = POOL_SIZE

/** A new Buffer of `length` bytes, not initialised: every byte is the caller's to fill. */
function allocate(length) {
  if (length > POOLED) return allocUnsafeSlow(length)
  if (pool === null || used + length > POOL_SIZE) {
    pool = allocUnsafeSlow(POOL_SIZE).buffer
    markAsUntransferable(pool)
    used = 0
  }
  const slice = bufferFrom(pool, used, length)
  used = (used + length + 7) & ~7 // keep slices 8-byte aligned, as Node's pool does
  return slice
}

module.exports = { allocate, POOLED }
