'use strict'

// Channel: a bounded queue of messages in a block of its own, for any number
// of senders and receivers in any processes and threads. The block's format
// (lib/channel-format.js, docs/channel-format.md) is a ring of frames: senders
// append under the send lock, receivers take from the front under the receive
// lock. Both locks are the block's own (lib/shared-memory.js): a sender or
// receiver that dies holding one hands it to the next with 'owner-died', and
// every step below leaves the ring whole wherever it stops, so the next one
// simply goes on. Waiting for data or space is a wait on a sequence word that
// the other side bumps and notifies only while someone waits.
//
// Every operation is written once, as a generator that yields what it must
// wait for (a lock, or a word to change); send and receive run it blocking,
// sendAsync and receiveAsync run it with Promises.

const { Buffer } = require('node:buffer')
const SharedMemory = require('./shared-memory.js')
const errors = require('./errors.js')
const { defineDispose } = require('./dispose.js')
const { bytesOf, byteLength, prefix } = require('./bytes.js')
const { allocate, scratchFor } = require('./pool.js')
const F = require('./channel-format.js')

const { load, store, add, sub } = Atomics
// Taken when this module loads, as lib/shared-memory.js does: code that changes the prototypes
// later cannot reach the channel's memory through them.
const { lock, tryLock, unlock, wait, notify, waitAsync, lockAsync } = SharedMemory.prototype
const set = Uint8Array.prototype.set
const bufferCopy = Buffer.prototype.copy
const bufferWrite = Buffer.prototype.write
const bufferByteLength = Buffer.byteLength
const toString = Buffer.prototype.toString
const subarray = Buffer.prototype.subarray
const now = () => performance.now()

/**
 * What a step waits for: a lock (by its byte offset), a word (by index) to leave a value, or
 * the same watched for a moment without sleeping (SPIN).
 */
const LOCK = 0
const WAIT = 1
const SPIN = 2
// How long a side watches the ring before it counts itself waiting (and so makes the other side
// pay a notify per message): a busy peer answers sooner. On the JS thread of an async call less,
// as waitAsync does (src/os/watch.rs).
const SPIN_MS = 0.05
const ASYNC_SPIN_MS = 0.02
// How long one sleep on a sequence word lasts at most. A peer killed between moving a position
// and waking the other side, or the reader of an in-place message killed while a sender waits
// for its room, leaves no one to wake the sleepers: each looks at the ring again this often.
const SLICE_MS = 100
// The longest timer Node keeps (longer ones fire at once).
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Watches word `index` until it leaves `value`, for at most `ms`. It looks about every 100 ns,
 * not as fast as it could: every look pulls the word's line from the other side, which must win
 * it back for each write.
 */
function spin(words, index, value, ms) {
  const until = now() + ms
  while (load(words, index) === value) {
    if (now() > until || now() > until) return
  }
}
/** #takeFront's answer when nothing is there. */
const EMPTY = Symbol('empty')
/** An attempt's answer (#until) when it must wait and try again. */
const NOT_YET = Symbol('not yet')

/**
 * The two sides of the ring, as #until waits on them: the side's lock, the other side's position
 * that it watches, its count of waiters, and the sequence word the other side bumps for it.
 */
const SEND_SIDE = { lock: F.SEND_LOCK, watch: F.I_READ, waiting: F.I_SENDERS_WAITING, seq: F.I_SPACE_SEQ }
const RECEIVE_SIDE = { lock: F.RECEIVE_LOCK, watch: F.I_WRITE, waiting: F.I_RECEIVERS_WAITING, seq: F.I_DATA_SEQ }

const alignUp = (n) => (n + F.FRAME_ALIGN - 1) & -F.FRAME_ALIGN

/** `timeoutMs` checked: undefined is Infinity (wait as long as it takes). */
function timeoutOf(timeoutMs) {
  if (timeoutMs === undefined) return Infinity
  if (typeof timeoutMs !== 'number') throw errors.invalidArgType('timeoutMs', 'a number', timeoutMs)
  if (!(timeoutMs >= 0)) throw errors.outOfRange(`timeoutMs must be a non-negative number or Infinity, got ${timeoutMs}`)
  return timeoutMs
}

/** When a wait of `timeoutMs` from now ends (Infinity for never). */
function deadlineOf(timeoutMs) {
  return timeoutMs === Infinity ? Infinity : now() + timeoutMs
}

/** What is left of the time until `deadline`, as the block's wait and lock take it. */
function remaining(deadline) {
  return deadline === Infinity ? undefined : Math.max(0, deadline - now())
}

function checkSignal(signal) {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw errors.invalidArgType('signal', 'an AbortSignal', signal)
  }
  if (signal?.aborted) throw errors.abortError(signal)
}

/**
 * A message read in place: `bytes` is the channel's own memory, valid until
 * release() (then a later message may overwrite it). Until then its room in
 * the channel is not reused.
 */
class InPlaceMessage {
  #release
  constructor(bytes, isText, release) {
    /** The message's bytes, in the channel (UTF-8 where it was sent as a string). */
    this.bytes = bytes
    /** Whether it was sent as a string. */
    this.isText = isText
    this.#release = release
  }

  /** Gives the message's room back to the channel; its bytes may change from now on. */
  release() {
    if (typeof this !== 'object' || this === null || !(#release in this)) throw errors.invalidThis('InPlaceMessage')
    const release = this.#release
    if (release === null) return
    this.#release = null
    release()
  }
}

defineDispose(InPlaceMessage.prototype, (message) => message.release())

/** The first word of a channel's header once its creator wrote it, after a moment's grace. */
function headerWritten(memory, words) {
  const until = now() + 1000
  while (load(words, F.I_MAGIC) === 0 && now() < until) wait.call(memory, F.I_MAGIC * 4, 0, 50)
  return load(words, F.I_MAGIC)
}

/**
 * `create: 'if-missing'`: attaches to the channel, or creates its block of `size` bytes.
 * SharedMemory's 'if-missing' attaches only to a block of this user, but maps just the size
 * asked for: an existing channel of another capacity is attached again with its own size (read
 * from its header), still with 'if-missing'. A block created on the way with a size not ours
 * (the name vanished in between) is removed again, and the round starts over.
 */
function openIfMissing(name, size, modeOption) {
  let wanted = size
  for (let round = 0; ; round++) {
    let memory
    try {
      memory = new SharedMemory(name, { size: wanted, create: 'if-missing', ...modeOption })
    } catch (error) {
      if (error?.code !== 'ERR_SHM_TOO_LARGE') throw error
      if (wanted === F.HEADER_SIZE) throw errors.notAChannel(name, `its block is smaller than the smallest channel`)
      // Smaller than ours: look at its header first.
      wanted = F.HEADER_SIZE
      continue
    }
    if (memory.host) {
      if (wanted === size) return memory
      memory.close()
      wanted = size
    } else {
      // At least the header: SharedMemory maps what was asked (size, the header, or `whole`
      // below, each larger), or refuses a smaller block with ERR_SHM_TOO_LARGE.
      const view = memory.view
      const words = new Int32Array(view.buffer, view.byteOffset, F.HEADER_SIZE >> 2)
      const whole = F.HEADER_SIZE + words[F.I_DATA_SIZE]
      // Not a channel (the constructor says so), or mapped whole.
      if (headerWritten(memory, words) !== F.MAGIC || whole <= memory.size) return memory
      memory.close()
      wanted = whole
    }
    // A header whose data area is larger than its block sends every round back to the header.
    if (round === 100) throw errors.notAChannel(name, 'its header describes more than its block holds, or its size kept changing while it was opened')
  }
}

/** A message ready to be written: its kind, its bytes (or text) and their length. */
class Outgoing {
  constructor(kind, payload, size) {
    this.kind = kind
    this.payload = payload
    this.size = size
  }
}

let self

class Channel {
  /** The block (a SharedMemory), its view, and the view as 32-bit words. */
  #memory
  #view
  #words
  /** The data area's size (D): positions run from 0 to 2D, a frame starts at position % D. */
  #dataSize
  #capacity
  #name
  /** The async waits this handle's calls share, by word and value (#sharedWait). */
  #waits = new Map()
  /** The claims (lock offsets) of this handle's in-place messages not released yet. */
  #claims = new Set()
  /** How many of this handle's calls count as waiting, by waiting word (#until). */
  #waitingCounts = new Map()
  /** What this handle last saw of WRITE, and left in READ and TAKES (see #takeFront). */
  #writeSeen = -1
  #readLeft = -1
  #takesLeft = 0

  /**
   * `new Channel(name, { capacity, create = true, mode })`: creates the
   * channel's block (`create: true`), attaches to it (`false`), or either
   * (`'if-missing'`).
   */
  constructor(name, options) {
    if (typeof options !== 'object' || options === null) throw errors.invalidArgType('options', 'an object', options)
    const { capacity, create = true, mode } = options
    let size
    if (create !== false) {
      if (typeof capacity !== 'number') throw errors.invalidArgType('capacity', 'a number', capacity)
      if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > F.MAX_CAPACITY) {
        throw errors.outOfRange(`capacity must be an integer from 1 to ${F.MAX_CAPACITY}, got ${capacity}`)
      }
      size = F.HEADER_SIZE + alignUp(capacity) + F.FRAME_HEADER
    }
    const modeOption = mode === undefined ? {} : { mode }
    this.#memory = create === 'if-missing' ? openIfMissing(name, size, modeOption) : new SharedMemory(name, { size, create, ...modeOption })
    try {
      this.#open(capacity)
    } catch (error) {
      this.#memory.close()
      throw error
    }
  }

  static {
    self = (value) => {
      if (typeof value !== 'object' || value === null || !(#memory in value)) {
        throw errors.invalidThis('Channel')
      }
      return value
    }
  }

  /** Writes the header (the creator), or checks it (everyone else). */
  #open(capacity) {
    const memory = this.#memory
    this.#name = memory.name
    if (memory.size < F.HEADER_SIZE + F.FRAME_HEADER + F.FRAME_ALIGN) {
      throw errors.notAChannel(this.#name, `its block of ${memory.size} bytes is smaller than the smallest channel`)
    }
    this.#view = memory.view
    this.#words = new Int32Array(this.#view.buffer, this.#view.byteOffset, this.#view.length >> 2)
    const words = this.#words
    if (memory.host) {
      words[F.I_VERSION] = F.VERSION
      words[F.I_DATA_SIZE] = memory.size - F.HEADER_SIZE
      words[F.I_CAPACITY] = capacity
      store(words, F.I_MAGIC, F.MAGIC) // last: the header is ready
      notify.call(memory, F.I_MAGIC * 4)
    } else {
      const magic = headerWritten(memory, words)
      if (magic !== F.MAGIC) throw errors.notAChannel(this.#name, magic === 0 ? 'its header was never written' : 'it does not start with a channel header')
      const version = words[F.I_VERSION]
      if (version !== F.VERSION) throw errors.notAChannel(this.#name, `its format is version ${version >>> 0}, this release speaks version ${F.VERSION}`)
    }
    const dataSize = words[F.I_DATA_SIZE]
    const largest = words[F.I_CAPACITY]
    // At most the block's size: macOS and Windows round a block up to whole pages. At least one
    // frame of the capacity, which also refuses a data area of zero bytes or fewer.
    if (dataSize > memory.size - F.HEADER_SIZE || dataSize % F.FRAME_ALIGN !== 0 || dataSize > F.MAX_DATA_SIZE || largest < 1 || alignUp(largest) + F.FRAME_HEADER > dataSize) {
      throw errors.notAChannel(this.#name, `its header describes ${dataSize} bytes of frames and messages up to ${largest} bytes in a block of ${memory.size} bytes`)
    }
    this.#dataSize = dataSize
    this.#capacity = largest
  }

  get name() {
    return self(this).#name
  }

  /** The largest message, in bytes. */
  get capacity() {
    return self(this).#capacity
  }

  get closed() {
    return self(this).#memory.closed
  }

  /** Whether end() was called, by anyone. */
  get ended() {
    return load(self(this).#live(), F.I_ENDED) === 1
  }

  /**
   * Sends `message` (a string, or bytes), waiting up to `timeoutMs` for room:
   * true once it is in, false if the channel stayed full.
   */
  send(message, timeoutMs) {
    const outgoing = self(this).#outgoing(message)
    const timeout = timeoutOf(timeoutMs)
    this.#live()
    // The common case first, without the machinery of waiting: the lock is free and so is room.
    if (this.#sendNow(outgoing)) return true
    return this.#runBlocking(this.#sending(outgoing), deadlineOf(timeout))
  }

  /** Like `send`, as a Promise; the event loop stays free while it waits. */
  sendAsync(message, timeoutMs, signal) {
    try {
      const outgoing = self(this).#outgoing(message)
      const timeout = timeoutOf(timeoutMs)
      checkSignal(signal)
      this.#live()
      if (this.#sendNow(outgoing)) return Promise.resolve(true)
      return this.#runAsync(this.#sending(outgoing), deadlineOf(timeout), signal)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * The next message (a string, or a Buffer of its own), waiting up to
   * `timeoutMs`; undefined on timeout, or once the channel ended and is drained.
   */
  receive(timeoutMs) {
    return self(this).#receive(timeoutMs, false)
  }

  /** Like `receive`, as a Promise; the event loop stays free while it waits. */
  receiveAsync(timeoutMs, signal) {
    try {
      return self(this).#receiveAsync(timeoutMs, signal, false)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Like `receive`, without copying: an InPlaceMessage whose bytes are the
   * channel's memory until its release().
   */
  receiveInPlace(timeoutMs) {
    return self(this).#receive(timeoutMs, true)
  }

  /** Like `receiveInPlace`, as a Promise. */
  receiveInPlaceAsync(timeoutMs, signal) {
    try {
      return self(this).#receiveAsync(timeoutMs, signal, true)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #receive(timeoutMs, inPlace) {
    const timeout = timeoutOf(timeoutMs)
    this.#live()
    const message = this.#receiveNow(inPlace)
    if (message !== EMPTY) return message
    return this.#runBlocking(this.#receiving(inPlace), deadlineOf(timeout))
  }

  #receiveAsync(timeoutMs, signal, inPlace) {
    const timeout = timeoutOf(timeoutMs)
    checkSignal(signal)
    this.#live()
    const message = this.#receiveNow(inPlace)
    if (message !== EMPTY) return Promise.resolve(message)
    return this.#runAsync(this.#receiving(inPlace), deadlineOf(timeout), signal)
  }

  /** Every message until the channel ended and is drained. */
  [Symbol.asyncIterator]() {
    // Not an async generator method itself: its body would run only at the first next(), and
    // a wrong `this` must throw here, as every other member's does.
    const channel = self(this)
    return (async function* messages() {
      for (;;) {
        const message = await channel.receiveAsync()
        if (message === undefined) return
        yield message
      }
    })()
  }

  /**
   * Ends the channel, for every process: sends throw ERR_SHM_CHANNEL_ENDED
   * from now on, and receivers get what was sent before, then undefined.
   */
  end() {
    const memory = self(this).#memory
    const words = this.#live()
    // Under the send lock: a send either finished before (and is received) or sees the end.
    lock.call(memory, F.SEND_LOCK)
    store(words, F.I_ENDED, 1)
    unlock.call(memory, F.SEND_LOCK)
    for (const seq of [F.I_DATA_SEQ, F.I_SPACE_SEQ]) {
      add(words, seq, 1)
      notify.call(memory, seq * 4)
    }
  }

  /**
   * Lets go of the channel's block; the creator's close() also removes the name. In-place
   * messages not released yet are released, and calls still waiting stop counting as waiters.
   */
  close() {
    const memory = self(this).#memory
    if (memory.closed) return
    const words = this.#words
    // Other handles of the block in this process keep this thread's liveness mark: a claim left
    // held would keep its room from every sender, in every process.
    for (const claim of this.#claims) unlock.call(memory, claim)
    const released = this.#claims.size !== 0
    this.#claims.clear()
    for (const [index, count] of this.#waitingCounts) if (count !== 0) sub(words, index, count)
    this.#waitingCounts.clear()
    if (released) this.#wake(F.I_SENDERS_WAITING, F.I_SPACE_SEQ)
    memory.close()
  }

  /** Removes the channel's name now; everyone attached keeps working. */
  unlink() {
    self(this).#memory.unlink()
  }

  [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) {
    const channel = self(this)
    const state = { name: channel.#name, capacity: channel.#capacity, closed: channel.closed }
    if (!state.closed) state.ended = channel.ended
    return `Channel ${inspect(state, options)}`
  }

  /** The header's words; throws once closed. */
  #live() {
    if (this.#memory.closed) throw errors.closed(this.#name)
    return this.#words
  }

  /** `message` checked and measured, before anything is locked. */
  #outgoing(message) {
    if (typeof message === 'string') {
      const size = bufferByteLength(message, 'utf8')
      if (size > this.#capacity) throw errors.outOfRange(`a message of ${size} bytes is larger than channel "${this.#name}" can hold (${this.#capacity} bytes)`)
      return new Outgoing(F.KIND_TEXT, message, size)
    }
    const bytes = bytesOf(message)
    if (bytes === null) throw errors.invalidArgType('message', 'a string, Buffer, TypedArray, DataView or ArrayBuffer', message)
    const size = byteLength(bytes)
    if (size > this.#capacity) throw errors.outOfRange(`a message of ${size} bytes is larger than channel "${this.#name}" can hold (${this.#capacity} bytes)`)
    // Exactly the bytes measured now: a resizable buffer that grows later must not write past the
    // frame (#sendLocked checks that none shrank or was detached meanwhile).
    return new Outgoing(F.KIND_BYTES, size === 0 ? bytes : prefix(bytes, size), size)
  }

  /** Runs an operation, blocking the thread while it waits. */
  #runBlocking(steps, deadline) {
    const memory = this.#memory
    let step = steps.next()
    try {
      while (!step.done) {
        const [what, where, value] = step.value
        let result
        let done = true
        if (what === LOCK) {
          done = lock.call(memory, where, remaining(deadline)) !== 'timed-out'
        } else if (what === WAIT) {
          // A slice at most: the end of a slice is not the end of the wait. Woken, it looks once
          // more, even at the deadline.
          const woke = wait.call(memory, where * 4, value, Math.min(remaining(deadline) ?? SLICE_MS, SLICE_MS))
          done = woke !== 'timed-out' || now() < deadline
        } else {
          spin(this.#words, where, value, SPIN_MS)
        }
        step = steps.next(done)
      }
    } finally {
      if (!step.done) steps.return()
    }
    return step.value
  }

  /** Runs an operation, awaiting what it waits for. */
  async #runAsync(steps, deadline, signal) {
    const memory = this.#memory
    let step = steps.next()
    try {
      while (!step.done) {
        const [what, where, value] = step.value
        let done = true
        if (what === LOCK) {
          let result = tryLock.call(memory, where)
          if (result === 'busy') result = await lockAsync.call(memory, where, remaining(deadline), signal)
          done = result !== 'timed-out'
        } else if (what === WAIT) {
          done = await this.#sharedWait(where, value, deadline, signal, steps)
        } else {
          spin(this.#words, where, value, ASYNC_SPIN_MS)
        }
        step = steps.next(done)
      }
    } finally {
      if (!step.done) steps.return()
    }
    return step.value
  }

  /** One try of a send, without waiting for the lock or for room: whether the message is in. */
  #sendNow(outgoing) {
    const memory = this.#memory
    if (tryLock.call(memory, F.SEND_LOCK) === 'busy') return false
    let sent
    try {
      sent = this.#sendLocked(outgoing)
    } finally {
      unlock.call(memory, F.SEND_LOCK)
    }
    if (sent !== true) return false
    this.#wake(F.I_RECEIVERS_WAITING, F.I_DATA_SEQ)
    return true
  }

  /** One try of a receive, without waiting: the front message, or EMPTY. */
  #receiveNow(inPlace) {
    const memory = this.#memory
    if (tryLock.call(memory, F.RECEIVE_LOCK) === 'busy') return EMPTY
    try {
      return this.#takeFront(true, inPlace)
    } finally {
      unlock.call(memory, F.RECEIVE_LOCK)
    }
  }

  /**
   * An async wait for word `index` to leave `value` (or be notified), shared by every async call
   * of this handle that waits for the same: one waiter thread (src/wait.rs) however many
   * receiveAsync or sendAsync calls wait. Exact, because the channel never notifies without
   * changing the word first: whoever wakes only looks at the ring again. True when the word
   * changed or was notified, or a slice ended before `deadline`; false at `deadline`. `caller`
   * names the call (its steps), so that the shared wait knows when the call it sent to look
   * comes back.
   */
  #sharedWait(index, value, deadline, signal, caller) {
    if (signal?.aborted) return Promise.reject(errors.abortError(signal))
    const key = index * 2 ** 32 + (value >>> 0)
    const shared = this.#sharedWaitOf(key, index, value)
    if (shared.looking === caller) shared.looking = null
    return new Promise((resolve, reject) => {
      let timer
      let onAbort
      // Called once, by the shared wait or by leave(), which take it out of the users first.
      const user = (error, woke) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(woke)
      }
      user.deadline = deadline
      user.owner = caller
      const leave = (error, woke) => {
        if (!shared.users.delete(user)) return
        // The last one to leave early stops the thread.
        if (shared.users.size === 0) {
          this.#forget(key, shared)
          shared.controller.abort()
        }
        user(error, woke)
      }
      shared.users.add(user)
      // Where Node keeps a timer that long; a longer wait ends at the end of a slice.
      if (deadline - now() <= MAX_TIMER_MS) timer = setTimeout(() => leave(null, false), Math.max(0, deadline - now()))
      if (signal) {
        onAbort = () => leave(errors.abortError(signal))
        signal.addEventListener('abort', onAbort, { once: true })
      }
    })
  }

  /**
   * The shared wait of #sharedWait for word `index` to leave `value` (`key`), started if none
   * runs: its users, each a callback of one call, in the order they came. It sleeps a slice at
   * most (SLICE_MS). A slice that ends with no wake-up wakes one call only, the one that has
   * waited longest, to look at the ring again for all of them (a peer may have died before it
   * woke them), and the others sleep on: idle calls cost one look per slice, not one each
   * (10,000 pending receiveAsync calls took half a core when each looked). Where that call does
   * not come back to wait for the same value before the event loop's next turn, it found the
   * ring changed (or could not look at once): then every call looks. Only that call's return
   * counts: a new call that comes to wait meanwhile looked for itself, and more may come after.
   */
  #sharedWaitOf(key, index, value) {
    const running = this.#waits.get(key)
    if (running !== undefined) return running
    const shared = { users: new Set(), controller: null, looking: null }
    const settleAll = (error, woke) => {
      this.#forget(key, shared)
      shared.looking = null
      const users = [...shared.users]
      shared.users.clear()
      for (const user of users) user(error, woke)
    }
    const sleep = () => {
      shared.controller = new AbortController()
      waitAsync.call(this.#memory, index * 4, value, SLICE_MS, shared.controller.signal).then((result) => {
        if (shared.users.size === 0) return this.#forget(key, shared) // every call left
        if (result !== 'timed-out') return settleAll(null, true)
        // Those whose deadline has passed end (those with a timer usually ended at it already).
        const at = now()
        for (const user of shared.users) {
          if (at >= user.deadline) {
            shared.users.delete(user)
            user(null, false)
          }
        }
        const [longest] = shared.users
        if (longest === undefined) return this.#forget(key, shared)
        shared.users.delete(longest)
        if (shared.users.size === 0) {
          this.#forget(key, shared)
        } else {
          sleep()
          shared.looking = longest.owner // until it waits here again (#sharedWait)
          setImmediate(() => {
            if (shared.looking === null || shared.users.size === 0) return
            shared.controller.abort()
            settleAll(null, true)
          })
        }
        longest(null, true)
      }, settleAll)
    }
    this.#waits.set(key, shared)
    sleep()
    return shared
  }

  /** Takes shared wait `shared` out of #waits, where it still is under `key`. */
  #forget(key, shared) {
    if (this.#waits.get(key) === shared) this.#waits.delete(key)
  }

  /**
   * Runs `attempt` under the side's lock until it answers something else than NOT_YET, or until
   * the deadline (then `timedOut`). Between tries it waits, cheapest first: it watches the other
   * side's position for a moment; then it counts itself waiting (from then on the other side
   * wakes it) and tries once more; then it sleeps on the side's sequence word, loaded before the
   * try, so that a change after the try ends the sleep at once.
   */
  *#until(side, attempt, timedOut) {
    const words = this.#words
    let watched = false
    let waiting = false
    try {
      for (;;) {
        const seq = load(words, side.seq)
        if (!(yield [LOCK, side.lock])) return timedOut
        let answer
        try {
          answer = attempt()
        } finally {
          unlock.call(this.#memory, side.lock)
        }
        if (answer !== NOT_YET) return answer
        if (!watched) {
          watched = true
          yield [SPIN, side.watch, load(words, side.watch)]
        } else if (!waiting) {
          waiting = true
          add(words, side.waiting, 1)
          this.#waitingCounts.set(side.waiting, (this.#waitingCounts.get(side.waiting) ?? 0) + 1)
        } else if (!(yield [WAIT, side.seq, seq])) {
          return timedOut
        }
      }
    } finally {
      // Once closed, close() took this call's count off the block.
      if (waiting && !this.#memory.closed) {
        sub(words, side.waiting, 1)
        this.#waitingCounts.set(side.waiting, this.#waitingCounts.get(side.waiting) - 1)
      }
    }
  }

  /** send: the frame in, once there is room. */
  *#sending(outgoing) {
    const sent = yield* this.#until(SEND_SIDE, () => this.#sendLocked(outgoing), false)
    if (sent) this.#wake(F.I_RECEIVERS_WAITING, F.I_DATA_SEQ)
    return sent
  }

  /** With the send lock held: writes the frame and publishes it (true), or NOT_YET when there is no room. */
  #sendLocked(outgoing) {
    const words = this.#words
    if (load(words, F.I_ENDED) === 1) throw errors.channelEnded(this.#name)
    const dataSize = this.#dataSize
    let write = this.#position(F.I_WRITE)
    let at = write % dataSize
    const size = outgoing.size
    const frame = F.FRAME_HEADER + alignUp(size)
    if (frame > dataSize - at) {
      // It does not fit before the end: skip to the start (a pad frame). Padded only once the
      // frame fits after the pad, so that a send that finds no room changes nothing; except for a
      // frame larger than what lies before the write position, which fits only once the pad is
      // in and taken.
      if (!this.#hasRoom(write, frame <= at ? dataSize - at + frame : dataSize - at)) return NOT_YET
      this.#writeHeader(at, dataSize - at - F.FRAME_HEADER, F.KIND_PAD)
      write = this.#advance(write, dataSize - at)
      store(words, F.I_WRITE, write)
      at = 0
      // Nobody may come to take the pad: skip it for them, so its room comes back; where a
      // receiver is at work, wake the sleeping ones too, whose last look may predate the pad.
      if (!this.#skipPadsIfIdle()) this.#wake(F.I_RECEIVERS_WAITING, F.I_DATA_SEQ)
    }
    if (!this.#hasRoom(write, frame)) return NOT_YET
    const start = F.HEADER_SIZE + at + F.FRAME_HEADER
    if (outgoing.kind === F.KIND_TEXT) {
      bufferWrite.call(this.#view, outgoing.payload, start, size, 'utf8')
    } else if (size !== 0) {
      if (byteLength(outgoing.payload) !== size) throw errors.messageChanged(this.#name, size)
      set.call(this.#view, outgoing.payload, start)
    }
    this.#writeHeader(at, size, outgoing.kind)
    store(words, F.I_WRITE, this.#advance(write, frame)) // published
    return true
  }

  /** Whether `bytes` from position `write` are free, reclaiming frames taken since last time. */
  #hasRoom(write, bytes) {
    const words = this.#words
    const dataSize = this.#dataSize
    const span = 2 * dataSize
    const start = this.#position(F.I_FREE)
    // The frames before FREE are the senders' own line: enough room there spares reading READ.
    if (dataSize - ((write - start + span) % span) >= bytes) return true
    const read = this.#position(F.I_READ)
    // FREE, READ and WRITE in this order around the ring, at most D apart.
    if ((read - start + span) % span > (write - start + span) % span || (write - start + span) % span > dataSize) {
      throw errors.channelCorrupt(this.#name, `its positions are out of order (free ${start}, read ${read}, write ${write})`)
    }
    let free = start
    // Frames before READ were taken: their room is free again unless a receiver still reads one
    // in place (its claim, a lock, held by a live thread).
    while (dataSize - ((write - free + span) % span) < bytes && free !== read) {
      const at = free % dataSize
      const header = (F.HEADER_SIZE + at) >> 2
      const length = this.#frameLength(at, words[header + 1], words[header] >>> 0, (read - free + span) % span)
      if ((words[header + 2] | words[header + 3]) !== 0) {
        const claim = F.HEADER_SIZE + at + 8
        if (tryLock.call(this.#memory, claim) === 'busy') break
        unlock.call(this.#memory, claim) // released, or its reader died: the room is free
      }
      free = this.#advance(free, length)
    }
    if (free !== start) store(words, F.I_FREE, free)
    return dataSize - ((write - free + span) % span) >= bytes
  }

  /**
   * With the send lock held, after a pad: takes the pads at the front if no receiver is busy;
   * whether it could.
   */
  #skipPadsIfIdle() {
    const memory = this.#memory
    if (tryLock.call(memory, F.RECEIVE_LOCK) === 'busy') return false // a receiver is at work
    try {
      this.#takeFront(false, false)
    } finally {
      unlock.call(memory, F.RECEIVE_LOCK)
    }
    return true
  }

  #writeHeader(at, size, kind) {
    const words = this.#words
    const header = (F.HEADER_SIZE + at) >> 2
    words[header] = size
    words[header + 1] = kind
    words[header + 2] = 0 // the claim: free
    words[header + 3] = 0
  }

  /** receive: the front message once there is one; undefined once the channel ended and is drained. */
  *#receiving(inPlace) {
    const words = this.#words
    return yield* this.#until(
      RECEIVE_SIDE,
      () => {
        // Before the ring: a send that finished before end() is seen in it.
        const ended = load(words, F.I_ENDED) === 1
        const message = this.#takeFront(true, inPlace)
        if (message !== EMPTY) return message
        return ended ? undefined : NOT_YET
      },
      undefined,
    )
  }

  /**
   * With the receive lock held: skips pads and takes the front message when
   * `take` (a copy, or read in place); EMPTY when there is none. Gives the
   * room of what it passed back.
   */
  #takeFront(take, inPlace) {
    const words = this.#words
    const dataSize = this.#dataSize
    const start = this.#position(F.I_READ)
    const takes = load(words, F.I_TAKES)
    // Where the published frames end: as this handle saw it last, while no one else has taken
    // a frame since (READ and the count of takes as it left them), which saves reading the line
    // the senders write; else as the senders left it.
    let write = this.#writeSeen
    if (start === write || start !== this.#readLeft || takes !== this.#takesLeft) write = this.#writeSeen = this.#position(F.I_WRITE)
    const span = 2 * dataSize
    if ((write - start + span) % span > dataSize) {
      throw errors.channelCorrupt(this.#name, `its positions are out of order (read ${start}, write ${write})`)
    }
    let read = start
    let message = EMPTY
    let dropped = -1
    while (read !== write) {
      const at = read % dataSize
      const header = (F.HEADER_SIZE + at) >> 2
      // Each read once: a peer that may write the ring could change them between a check and a use.
      const kind = words[header + 1]
      const size = words[header] >>> 0
      // Checked against what is published: a frame never reaches past WRITE.
      const length = this.#frameLength(at, kind, size, (write - read + span) % span)
      if (kind === F.KIND_PAD) {
        read = this.#advance(read, length)
        continue
      }
      if (!take) break
      const from = F.HEADER_SIZE + at + F.FRAME_HEADER
      if (inPlace) message = this.#claim(at, from, size, kind === F.KIND_TEXT)
      else if (kind !== F.KIND_TEXT) message = this.#bytes(from, size)
      else {
        try {
          message = this.#text(from, size)
        } catch (error) {
          // Text longer than a string may be (only a foreign peer can send it): left in the
          // ring, it would stop every receiver for good; it is taken and dropped instead.
          if (error?.code !== 'ERR_STRING_TOO_LONG') throw error
          dropped = size
        }
      }
      read = this.#advance(read, length)
      break
    }
    if (read !== start) {
      store(words, F.I_READ, read)
      store(words, F.I_TAKES, (takes + 1) | 0)
      this.#readLeft = read
      this.#takesLeft = (takes + 1) | 0
      this.#wake(F.I_SENDERS_WAITING, F.I_SPACE_SEQ)
    }
    if (dropped >= 0) throw errors.textTooLongForString(this.#name, dropped)
    return message
  }

  /**
   * The length of the frame at `at` whose header holds `kind` and `size` (a pad: the rest of the
   * data area), after checking them: a known kind, a size the channel allows, and within the
   * `within` bytes that lie before the next position (a hostile header must not send the ring
   * astray). The caller reads the header once and uses only the values checked here.
   */
  #frameLength(at, kind, size, within) {
    let length = -1
    if (kind === F.KIND_PAD) length = this.#dataSize - at
    else if ((kind === F.KIND_TEXT || kind === F.KIND_BYTES) && size <= this.#capacity) length = F.FRAME_HEADER + alignUp(size)
    if (length < 0 || length > within || length > this.#dataSize - at) {
      throw errors.channelCorrupt(this.#name, `the frame at ${at} has kind ${kind} and size ${size}`)
    }
    return length
  }

  /** The frame at `at`, claimed for a reader in place: its claim is a lock this thread holds. */
  #claim(at, from, size, isText) {
    const memory = this.#memory
    const claim = F.HEADER_SIZE + at + 8
    // A sender leaves the claim free; taken, something else wrote the ring.
    if (tryLock.call(memory, claim) === 'busy') throw errors.channelCorrupt(this.#name, `the frame at ${at} is claimed before it was taken`)
    this.#claims.add(claim)
    return new InPlaceMessage(subarray.call(this.#view, from, from + size), isText, () => {
      if (!this.#claims.delete(claim)) return // close() gave it back
      unlock.call(memory, claim)
      this.#wake(F.I_SENDERS_WAITING, F.I_SPACE_SEQ)
    })
  }

  #text(from, size) {
    const copy = scratchFor(size)
    bufferCopy.call(this.#view, copy, 0, from, from + size)
    return toString.call(copy, 'utf8', 0, size)
  }

  #bytes(from, size) {
    const copy = allocate(size)
    bufferCopy.call(this.#view, copy, 0, from, from + size)
    return copy
  }

  /** A ring position from the header, checked: a wrong one would send the ring astray. */
  #position(index) {
    const position = load(this.#words, index)
    if (position < 0 || position >= 2 * this.#dataSize || position % F.FRAME_ALIGN !== 0) {
      throw errors.channelCorrupt(this.#name, `position word ${index} holds ${position >>> 0}`)
    }
    return position
  }

  #advance(position, bytes) {
    const next = position + bytes
    return next >= 2 * this.#dataSize ? next - 2 * this.#dataSize : next
  }

  /** Wakes the waiters of one side, if any wait. */
  #wake(waitingIndex, seqIndex) {
    const words = this.#words
    if (load(words, waitingIndex) === 0) return
    add(words, seqIndex, 1)
    notify.call(this.#memory, seqIndex * 4)
  }
}

defineDispose(Channel.prototype, (channel) => self(channel).close())

Channel.InPlaceMessage = InPlaceMessage

module.exports = Channel
