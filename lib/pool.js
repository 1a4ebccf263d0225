'use strict'

// Small copies (readBuffer, buffer) come from a pool, as Buffer.allocUnsafe's
// do from Node's 8 KiB pool, but a larger one: allocating is what a 1 KiB read
// costs most, so here it is spread over 16 to 64 reads. Like Node's, the pool
// is marked untransferable: a copy that is transferred (postMessage,
// structuredClone with a transfer list) is copied instead (Node 20) or refused
// with a DataCloneError (Node 21 on), so no other copy from the same pool can
// be emptied by it.

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

// Strings are decoded from a private copy: V8 reads UTF-8 twice (to size the
// string, then to fill it) and must see the same bytes both times, which
// memory that other processes write cannot promise. Copies up to
// SCRATCH_LIMIT bytes go to one scratch buffer, reused.
const SCRATCH_LIMIT = 64 * 1024
let scratch = allocUnsafeSlow(1024)

/** A private buffer of at least `length` bytes to decode from, valid until the next call. */
function scratchFor(length) {
  if (length <= scratch.length) return scratch
  if (length > SCRATCH_LIMIT) return allocUnsafeSlow(length)
  scratch = allocUnsafeSlow(SCRATCH_LIMIT)
  return scratch
}

module.exports = { allocate, scratchFor, POOLED }
