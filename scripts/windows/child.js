'use strict'

// The other Windows process of the suites in this folder, started by
// helpers.js (`Child`). It keeps the blocks it opens by handle number and runs
// the operations the parent asks for over the IPC channel, answering each with
// `{ id, value }` or `{ id, error }`.

const SharedMemory = require(process.env.SHM_WINDOWS_MODULE)

const blocks = new Map()
const channels = new Map()
let nextHandle = 0

function channel(handle) {
  const found = channels.get(handle)
  if (!found) throw new Error(`no channel with handle ${handle}`)
  return found
}

function block(handle) {
  const memory = blocks.get(handle)
  if (!memory) throw new Error(`no block with handle ${handle}`)
  return memory
}

function words(handle) {
  return new Int32Array(block(handle).view.buffer)
}

const ops = {
  ping: () => process.pid,

  /** Opens a block (any constructor form) and returns its handle and properties. */
  open(name, ...rest) {
    const memory = new SharedMemory(name, ...rest)
    const handle = ++nextHandle
    blocks.set(handle, memory)
    const { size, host, global, id } = memory
    return { handle, size, host, global, id }
  },
  close(handle) {
    block(handle).close()
    blocks.delete(handle)
  },
  exists: (name, global) => SharedMemory.exists(name, global),
  read: (handle, offset, length) => block(handle).read(offset, length),
  readHex: (handle, offset, length) => block(handle).readBuffer(offset, length).toString('hex'),
  write(handle, text, offset) {
    block(handle).write(text, offset)
  },
  /** Writes through the zero-copy view, not through `write`. */
  viewWrite(handle, text, offset) {
    return block(handle).view.write(text, offset)
  },
  load: (handle, index) => Atomics.load(words(handle), index),
  store: (handle, index, value) => Atomics.store(words(handle), index, value),
  /** `times` atomic increments of word `index`. */
  addMany(handle, index, times) {
    const array = words(handle)
    for (let i = 0; i < times; i++) Atomics.add(array, index, 1)
  },
  /** A blocking wait; returns its result and how long it took. */
  wait(handle, offset, expected, timeoutMs) {
    const started = Date.now()
    const result = block(handle).wait(offset, expected, timeoutMs)
    return { result, ms: Date.now() - started }
  },
  /** `count` waitAsync calls at once; returns when all have settled. */
  async waitAsyncMany(handle, offset, expected, timeoutMs, count) {
    const memory = block(handle)
    const started = Date.now()
    const results = await Promise.all(
      Array.from({ length: count }, () =>
        memory.waitAsync(offset, expected, timeoutMs).then(
          (result) => ({ result, ms: Date.now() - started }),
          (error) => ({ error: error.code ?? error.message, ms: Date.now() - started }),
        ),
      ),
    )
    return results
  },
  /** The length of the block's view, or the error taking it throws. */
  viewLength(handle) {
    try {
      return { length: block(handle).view.length }
    } catch (error) {
      return { error: { name: error.name, code: error.code, message: error.message } }
    }
  },
  notify: (handle, offset, count) => block(handle).notify(offset, count),
  lock: (handle, offset, timeoutMs) => block(handle).lock(offset, timeoutMs),
  tryLock: (handle, offset) => block(handle).tryLock(offset),
  unlock: (handle, offset) => block(handle).unlock(offset),
  /** `rounds` times: lock, add one to the Uint32 at `counter` with a plain read and write, unlock. */
  async countUnderLock(handle, offset, counter, rounds) {
    const memory = block(handle)
    const results = {}
    for (let i = 0; i < rounds; i++) {
      const result = i % 2 === 0 ? memory.lock(offset) : await memory.lockAsync(offset)
      results[result] = (results[result] ?? 0) + 1
      memory.view.writeUInt32LE(memory.view.readUInt32LE(counter) + 1, counter)
      memory.unlock(offset)
    }
    return results
  },
  /** The producer's step: store `value` in the word at `offset`, then notify it at once. */
  storeAndNotify(handle, offset, value) {
    Atomics.store(words(handle), offset / 4, value)
    return block(handle).notify(offset)
  },
  /** Opens a channel; returns its handle. */
  channelOpen(name, options) {
    const handle = ++nextHandle
    channels.set(handle, new SharedMemory.Channel(name, options))
    return handle
  },
  channelClose(handle) {
    channel(handle).close()
    channels.delete(handle)
  },
  channelEnd: (handle) => channel(handle).end(),
  /** Sends "ID:0" to "ID:COUNT-1" (sendAsync for odd ids); returns how many. */
  async channelSendMany(handle, id, count) {
    const sender = channel(handle)
    for (let i = 0; i < count; i++) {
      if (id % 2) await sender.sendAsync(`${id}:${i}`)
      else sender.send(`${id}:${i}`)
    }
    return count
  },
  /** Every message until the channel ends (bytes as arrays of numbers). */
  async channelReceiveAll(handle) {
    const messages = []
    for await (const message of channel(handle)) messages.push(typeof message === 'string' ? message : [...message])
    return messages
  },
  /** One receive; bytes as an array of numbers, undefined as null. */
  channelReceive(handle, timeoutMs) {
    const message = channel(handle).receive(timeoutMs)
    return message === undefined ? null : typeof message === 'string' ? message : [...message]
  },
  channelSend: (handle, message, timeoutMs) => channel(handle).send(typeof message === 'string' ? message : Buffer.from(message), timeoutMs),
  /** Notifies every few milliseconds until `want` waiters in all have woken; returns how many per call. */
  async notifyUntil(handle, offset, want, timeoutMs = 10000) {
    const memory = block(handle)
    const counts = []
    let woken = 0
    const started = Date.now()
    while (woken < want && Date.now() - started < timeoutMs) {
      const n = memory.notify(offset, want - woken)
      if (n > 0) counts.push(n)
      woken += n
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    return { woken, counts }
  },
}

process.on('message', async ({ id, op, args }) => {
  try {
    if (!Object.hasOwn(ops, op)) throw new Error(`unknown operation ${op}`)
    const value = await ops[op](...args)
    process.send({ id, value })
  } catch (error) {
    process.send({ id, error: { name: error.name, code: error.code, message: error.message } })
  }
})

// Ends with the parent: a test that fails cannot leave this process behind.
process.on('disconnect', () => process.exit(0))
