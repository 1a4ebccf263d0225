'use strict'

// Binary arguments: the bytes of a Buffer, any TypedArray, a DataView, an
// ArrayBuffer or a SharedArrayBuffer, as a Uint8Array over the same memory.
// Lengths and offsets come from the built-in getters, never from properties a
// subclass or a Proxy could redefine, so a value that lies about its size
// cannot make a copy reach past its memory or report wrong counts. A detached
// buffer, or a view of a resizable buffer that shrank past it, holds 0 bytes.

const { isAnyArrayBuffer, isDataView } = require('node:util').types

// Taken when this module loads: later changes to the globals do not reach here.
const Uint8ArrayConstructor = Uint8Array
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype)
const getter = (prototype, key) => Object.getOwnPropertyDescriptor(prototype, key).get
const typedArrayTag = getter(TypedArrayPrototype, Symbol.toStringTag)
const typedArrayBuffer = getter(TypedArrayPrototype, 'buffer')
const typedArrayByteOffset = getter(TypedArrayPrototype, 'byteOffset')
const typedArrayByteLength = getter(TypedArrayPrototype, 'byteLength')
const dataViewBuffer = getter(DataView.prototype, 'buffer')
const dataViewByteOffset = getter(DataView.prototype, 'byteOffset')
const dataViewByteLength = getter(DataView.prototype, 'byteLength')

const EMPTY = new Uint8ArrayConstructor(0)

/**
 * `value` as a Uint8Array over its own memory (itself when it is one), or
 * null when it is not binary data.
 */
function bytesOf(value) {
  // Every check below answers "not binary" for a primitive, null and undefined included.
  const tag = typedArrayTag.call(value) // undefined for anything but a TypedArray
  // A Uint8Array is used as it is: its true length is read where it is used (byteLength).
  if (tag === 'Uint8Array') return value
  if (tag !== undefined) {
    const length = typedArrayByteLength.call(value) // 0 when detached or out of bounds
    return length === 0 ? EMPTY : new Uint8ArrayConstructor(typedArrayBuffer.call(value), typedArrayByteOffset.call(value), length)
  }
  if (isDataView(value)) {
    try {
      return new Uint8ArrayConstructor(dataViewBuffer.call(value), dataViewByteOffset.call(value), dataViewByteLength.call(value))
    } catch {
      return EMPTY // its buffer is detached, or shrank past it: the getters throw
    }
  }
  if (isAnyArrayBuffer(value)) {
    try {
      return new Uint8ArrayConstructor(value)
    } catch {
      return EMPTY // detached
    }
  }
  return null
}

/** The true length of a Uint8Array, whatever its `length` property says; 0 when detached. */
function byteLength(bytes) {
  return typedArrayByteLength.call(bytes)
}

/** The first `length` bytes of a Uint8Array, as a Uint8Array of exactly that length. */
function prefix(bytes, length) {
  return new Uint8ArrayConstructor(typedArrayBuffer.call(bytes), typedArrayByteOffset.call(bytes), length)
}

/** The ArrayBuffer under a TypedArray, whatever its `buffer` property says. */
function bufferOf(bytes) {
  return typedArrayBuffer.call(bytes)
}

module.exports = { bytesOf, byteLength, bufferOf, prefix, Uint8ArrayConstructor }
