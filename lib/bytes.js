'use strict'

// Binary arguments: the bytes of a Buffer, any TypedArray, a DataView, an
// ArrayBuffer or a SharedArrayBuffer, as a Uint8Array over the same memory.
// Lengths and offsets come from the built-in getters, never from properties a
// subclass or a Proxy could redefine, so a value that lies about its size
// cannot make a copy reach past its memory.

const { isAnyArrayBuffer, isDataView } = require('node:util').types

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype)
const getter = (prototype, key) => Object.getOwnPropertyDescriptor(prototype, key).get
const typedArrayTag = getter(TypedArrayPrototype, Symbol.toStringTag)
const typedArrayBuffer = getter(TypedArrayPrototype, 'buffer')
const typedArrayByteOffset = getter(TypedArrayPrototype, 'byteOffset')
const typedArrayByteLength = getter(TypedArrayPrototype, 'byteLength')
const dataViewBuffer = getter(DataView.prototype, 'buffer')
const dataViewByteOffset = getter(DataView.prototype, 'byteOffset')
const dataViewByteLength = getter(DataView.prototype, 'byteLength')

/**
 * `value` as a Uint8Array over its own memory (itself when it is one), or
 * null when it is not binary data.
 */
function bytesOf(value) {
  if (typeof value !== 'object' || value === null) return null
  const tag = typedArrayTag.call(value) // undefined for anything but a TypedArray
  if (tag === 'Uint8Array') return value
  if (tag !== undefined) {
    return new Uint8Array(typedArrayBuffer.call(value), typedArrayByteOffset.call(value), typedArrayByteLength.call(value))
  }
  if (isDataView(value)) {
    return new Uint8Array(dataViewBuffer.call(value), dataViewByteOffset.call(value), dataViewByteLength.call(value))
  }
  if (isAnyArrayBuffer(value)) return new Uint8Array(value)
  return null
}

/** The true length of a Uint8Array, whatever its `length` property says. */
function byteLength(bytes) {
  return typedArrayByteLength.call(bytes)
}

module.exports = { bytesOf, byteLength }
