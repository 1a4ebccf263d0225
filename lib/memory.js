'use strict'

// How lib/shared-memory.js reaches a block's bytes, after it has checked every
// argument: through the block's one zero-copy view (writable blocks up to the
// largest Buffer), or through the addon's copy calls (read-only blocks, whose
// memory no JavaScript value may reach, and blocks larger than a Buffer may
// be). Both give the same results; only the copying differs. Every built-in
// used here is taken when the module loads, so code that changes the globals
// later does not change what these calls do. Not quite never receives the view:
// Buffer#write looks `utf8Write` up on the Buffer when called, so a replaced
// Buffer.prototype.utf8Write is handed the view. That gives nothing away (any
// code may read `memory.view`); read-only blocks, whose memory no JavaScript may
// reach, have no view and never come here.

const { Buffer } = require('node:buffer')
const { byteLength, bufferOf, prefix, Uint8ArrayConstructor } = require('./bytes.js')

const set = Uint8Array.prototype.set
const bufferFrom = Buffer.from
const bufferByteLength = Buffer.byteLength
const indexOf = Buffer.prototype.indexOf
const bufferWrite = Buffer.prototype.write

/**
 * Buffer#indexOf answers in 32 bits on Node 20: searches over larger spans go
 * in pieces of this size.
 */
const SEARCH_PIECE = 2 ** 30

/** A block read and written through its view (a Buffer over the mapping). */
class ViewMemory {
  #view
  #arrayBuffer
  #length

  constructor(view) {
    this.#view = view
    // Through the built-in getters: a getter defined on Buffer.prototype never sees the view.
    this.#arrayBuffer = bufferOf(view)
    this.#length = byteLength(view)
  }

  /** Copies `length` bytes at `offset` to the start of `target` (a Uint8Array). */
  read(offset, length, target) {
    set.call(target, new Uint8ArrayConstructor(this.#arrayBuffer, offset, length), 0)
  }

  /** Copies `source` (a Uint8Array) to `offset`; it may overlap the block. */
  write(source, offset) {
    set.call(this.#view, source, offset)
  }

  writeByte(offset, value) {
    this.#view[offset] = value
  }

  /** The bytes from `offset` up to the first NUL, or to `end`. */
  textLength(offset, end) {
    if (end === this.#length && end <= SEARCH_PIECE) {
      const nul = indexOf.call(this.#view, 0, offset)
      return nul === -1 ? end - offset : nul - offset
    }
    for (let start = offset; start < end; start += SEARCH_PIECE) {
      const piece = bufferFrom(this.#arrayBuffer, start, Math.min(SEARCH_PIECE, end - start))
      const nul = indexOf.call(piece, 0)
      if (nul !== -1) return start + nul - offset
    }
    return end - offset
  }

  /**
   * Encodes `text` as UTF-8 at `offset` if it takes at most `room` bytes;
   * returns its length in bytes either way.
   */
  writeText(text, offset, room) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: such a string fits without measuring it. The
    // length given to write() is that bound, not `room`: given 2^31 bytes or more (room in a
    // block over 2 GiB), Node's write() writes nothing and answers 0.
    const bound = text.length * 3
    if (bound <= room) return bufferWrite.call(this.#view, text, offset, bound, 'utf8')
    const length = bufferByteLength(text, 'utf8')
    if (length <= room) bufferWrite.call(this.#view, text, offset, length, 'utf8')
    return length
  }
}

/** A block reached only through the addon: every copy is an addon call. */
class NativeMemory {
  #native

  constructor(native) {
    this.#native = native
  }

  read(offset, length, target) {
    if (length !== 0) this.#native.copyOut(prefix(target, length), offset)
  }

  write(source, offset) {
    this.#native.copyIn(source, offset)
  }

  writeByte(offset, value) {
    this.#native.copyIn(new Uint8ArrayConstructor([value]), offset)
  }

  textLength(offset, end) {
    return this.#native.textLength(offset, end - offset)
  }

  writeText(text, offset, room) {
    const encoded = bufferFrom(text, 'utf8')
    if (encoded.length <= room) this.#native.copyIn(encoded, offset)
    return encoded.length
  }
}

module.exports = { ViewMemory, NativeMemory }
