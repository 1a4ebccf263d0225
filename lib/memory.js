'use strict'

// How lib/shared-memory.js reaches a block's bytes, after it has checked every
// argument: through the block's one zero-copy view, or, for a block larger
// than a Buffer may be (4 GiB in Node 20), through the addon's copy calls.
// Both give the same results; only the copying differs.

const { Buffer } = require('node:buffer')

const set = Uint8Array.prototype.set

/** A block read and written through its view (a Buffer over the mapping). */
class ViewMemory {
  #view
  #arrayBuffer

  constructor(view) {
    this.#view = view
    this.#arrayBuffer = view.buffer
  }

  /** Copies `length` bytes at `offset` to the start of `target` (a Uint8Array). */
  read(offset, length, target) {
    set.call(target, new Uint8Array(this.#arrayBuffer, offset, length), 0)
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
    if (end === this.#view.length) {
      const nul = this.#view.indexOf(0, offset)
      return nul === -1 ? end - offset : nul - offset
    }
    const nul = Buffer.from(this.#arrayBuffer, offset, end - offset).indexOf(0)
    return nul === -1 ? end - offset : nul
  }

  /**
   * Encodes `text` as UTF-8 at `offset` if it takes at most `room` bytes;
   * returns its length in bytes either way.
   */
  writeText(text, offset, room) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: such a string fits without measuring it.
    if (text.length * 3 <= room) return this.#view.write(text, offset, room, 'utf8')
    const length = Buffer.byteLength(text, 'utf8')
    if (length <= room) this.#view.write(text, offset, length, 'utf8')
    return length
  }
}

/** A block without a view: every copy is an addon call. */
class NativeMemory {
  #native

  constructor(native) {
    this.#native = native
  }

  read(offset, length, target) {
    this.#native.copyOut(length === target.length ? target : target.subarray(0, length), offset)
  }

  write(source, offset) {
    this.#native.copyIn(source, offset)
  }

  writeByte(offset, value) {
    this.#native.copyIn(Uint8Array.of(value), offset)
  }

  textLength(offset, end) {
    return this.#native.textLength(offset, end - offset)
  }

  writeText(text, offset, room) {
    const encoded = Buffer.from(text, 'utf8')
    if (encoded.length <= room) this.#native.copyIn(encoded, offset)
    return encoded.length
  }
}

module.exports = { ViewMemory, NativeMemory }
