'use strict'

// The layout both sides of the examples agree on: an Int32 state word at byte
// 0 (index 0 of an Int32Array over the block) and the message from byte 8.
module.exports = {
  STATE: 0,
  MESSAGE: 8,
  // The states, in the order they follow each other.
  EMPTY: 0,
  READY: 1,
  READ: 2,
  BUFFER_READY: 3,
}
