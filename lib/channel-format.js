'use strict'

// The layout of a channel's block (docs/channel-format.md says who writes
// what, and in which order). Every offset here is a byte offset in the block;
// the I_ names are indices of 32-bit words (byte offset / 4). All numbers are
// little-endian, as on every platform this package builds for.

/** "SHMC": the first word once the creator has written the header. */
const MAGIC = 0x434d4853
/** The format this release speaks; a block of another version is refused. */
const VERSION = 1

const HEADER_SIZE = 512
/** Frames start at multiples of this, and their headers take this much. */
const FRAME_ALIGN = 16
const FRAME_HEADER = 16
/** The data area of the largest channel: positions (below twice it) stay 31-bit integers. */
const MAX_DATA_SIZE = 2 ** 30

const layout = Object.freeze({
  MAGIC,
  VERSION,
  HEADER_SIZE,
  FRAME_ALIGN,
  FRAME_HEADER,
  MAX_DATA_SIZE,
  /** The largest message a channel can take, whatever its capacity. */
  MAX_CAPACITY: MAX_DATA_SIZE - FRAME_HEADER,

  // Written once by the creator, before MAGIC.
  I_MAGIC: 0,
  I_VERSION: 1,
  I_DATA_SIZE: 2, // bytes of the data area: a multiple of FRAME_ALIGN
  I_CAPACITY: 3, // the largest message, as the creator asked

  // Each group on a 64-byte line of its own, so that a side waiting on one line does not slow
  // down the other side's writes to another: the locks apart from the positions they guard.
  SEND_LOCK: 64, // a lock (lib/shared-memory.js): held while a frame is written
  I_WRITE: 32, // byte 128: where the next frame goes: published frames end here (senders)
  I_FREE: 33, // where the frames still in use begin (senders)
  RECEIVE_LOCK: 192, // held while a frame is taken
  I_READ: 64, // byte 256: the next frame to take (receivers)
  I_TAKES: 65, // how many times READ moved, wrapping at 2^32 (receivers)
  I_DATA_SEQ: 80, // byte 320: bumped when a frame is published while receivers wait
  I_RECEIVERS_WAITING: 81,
  I_SPACE_SEQ: 96, // byte 384: bumped when room is given back while senders wait
  I_SENDERS_WAITING: 97,
  I_ENDED: 112, // byte 448: 1 once end() was called

  // A frame: size (u32), kind (u32), claim (a lock word, 8 bytes), then the message.
  KIND_TEXT: 1,
  KIND_BYTES: 2,
  /** No message: the rest of the data area is skipped, the next frame is at its start. */
  KIND_PAD: 3,
})

module.exports = layout
