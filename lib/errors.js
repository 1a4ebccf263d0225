'use strict'

// The errors the JavaScript layer throws, shaped like Node's own and like the
// addon's (src/error.rs): a TypeError with code ERR_INVALID_ARG_TYPE for a
// wrong type, a RangeError with code ERR_OUT_OF_RANGE for a number out of its
// range, and an Error with an ERR_SHM_* code for everything else. Messages name
// the block.

function withCode(error, code) {
  Object.defineProperty(error, 'code', { value: code, writable: true, configurable: true, enumerable: true })
  return error
}

/** How a message names a value that has the wrong type. */
function describeType(value) {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'undefined':
      return 'undefined'
    case 'object':
      return 'an object'
    case 'boolean':
      return 'a boolean'
    case 'number':
      return 'a number'
    case 'string':
      return 'a string'
    case 'symbol':
      return 'a symbol'
    case 'function':
      return 'a function'
    case 'bigint':
      return 'a bigint'
    default:
      return 'an unknown value'
  }
}

function invalidArgType(what, expected, value) {
  return withCode(new TypeError(`${what} must be ${expected}, got ${describeType(value)}`), 'ERR_INVALID_ARG_TYPE')
}

function outOfRange(message) {
  return withCode(new RangeError(message), 'ERR_OUT_OF_RANGE')
}

function closed(name) {
  return withCode(new Error(`shared memory block "${name}" is closed`), 'ERR_SHM_CLOSED')
}

function readOnly(name) {
  return withCode(new Error(`shared memory block "${name}" was opened read-only`), 'ERR_SHM_READ_ONLY')
}

function tooLarge(what, length, room, name) {
  return withCode(
    new Error(`${what} of ${length} bytes does not fit in shared memory block "${name}" (${room} bytes available)`),
    'ERR_SHM_TOO_LARGE',
  )
}

function stringTooLong(name, offset, length) {
  return withCode(
    new Error(`the text of ${length} bytes at offset ${offset} of shared memory block "${name}" is longer than a string may be`),
    'ERR_SHM_TOO_LARGE',
  )
}

function textTooLongForString(name, size) {
  return withCode(
    new Error(`a text message of ${size} bytes in channel "${name}" is longer than a string may be: it was taken from the channel and dropped`),
    'ERR_SHM_TOO_LARGE',
  )
}

function bufferTooLarge(name, size, max) {
  return withCode(
    new RangeError(`shared memory block "${name}" of ${size} bytes is larger than a Buffer may be here (${max} bytes)`),
    'ERR_BUFFER_TOO_LARGE',
  )
}

function copyTooLarge(name, offset, length, max) {
  return withCode(
    new RangeError(`a copy of ${length} bytes at offset ${offset} of shared memory block "${name}" is larger than a Buffer may be here (${max} bytes)`),
    'ERR_BUFFER_TOO_LARGE',
  )
}

function invalidThis(type = 'SharedMemory') {
  return withCode(new TypeError(`Value of "this" must be of type ${type}`), 'ERR_INVALID_THIS')
}

/** generateIdAsync's failure, as generateId throws it (src/error.rs, ShmError::Id). */
function idFailed(cause) {
  return withCode(new Error(`cannot generate a shared memory block name: ${cause.message}`, { cause }), 'ERR_SHM_OS')
}

/** The error an aborted operation rejects with, shaped like Node's own. */
function abortError(signal) {
  const error = new Error('The operation was aborted', { cause: signal.reason })
  error.name = 'AbortError'
  return withCode(error, 'ABORT_ERR')
}

function channelEnded(name) {
  return withCode(new Error(`channel "${name}" has ended: it takes no more messages`), 'ERR_SHM_CHANNEL_ENDED')
}

/** A block that is no channel of a format this release speaks. */
function notAChannel(name, why) {
  return withCode(new Error(`shared memory block "${name}" is not a channel this release can open: ${why}`), 'ERR_SHM_NOT_A_CHANNEL')
}

/** A message's buffer that shrank or was detached between the call and the copy into the channel. */
function messageChanged(name, size) {
  return withCode(
    new Error(`the message of ${size} bytes for channel "${name}" was resized or detached before it could be sent: nothing was sent`),
    'ERR_SHM_MESSAGE_CHANGED',
  )
}

/** A channel whose shared state breaks the format (written by something else than a channel). */
function channelCorrupt(name, why) {
  return withCode(new Error(`channel "${name}" is corrupt: ${why}`), 'ERR_SHM_CHANNEL_CORRUPT')
}

module.exports = {
  invalidArgType,
  outOfRange,
  closed,
  readOnly,
  tooLarge,
  stringTooLong,
  textTooLongForString,
  bufferTooLarge,
  copyTooLarge,
  invalidThis,
  idFailed,
  abortError,
  channelEnded,
  notAChannel,
  channelCorrupt,
  messageChanged,
}
