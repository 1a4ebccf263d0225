'use strict'

// Channel: messages between processes and threads through a block of its own.
// Exactly-once delivery and each sender's order under load (3 sender and 2
// receiver processes), full and empty with timeouts, end() and for await,
// aborts, too-large messages, peers killed mid-stream and while holding the
// channel's locks, worker threads, in-place receives, and what a corrupt or
// foreign block gets. Peers are child processes (fixtures/channel-peer.js).

const test = require('node:test')
const assert = require('node:assert/strict')
const util = require('node:util')
const fs = require('node:fs')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { spawnSync } = require('node:child_process')
const { getEventListeners } = require('node:events')

const { SharedMemory, uniqueName, removeBlock, startChild, thrown, whenSleeping, whenAnyThreadSleepsOn, whenWaitersSleep } = require('./helpers')
const { Channel } = SharedMemory

const supported = ['linux', 'win32', 'darwin'].includes(process.platform) || 'channels use locks, which this release has on Linux, Windows and macOS only'
const linuxOnly = (supported !== true && supported) || (process.platform !== 'linux' && 'signals as on Linux')
const noC = linuxOnly || (spawnSync('cc', ['--version']).status !== 0 && 'needs a C compiler (cc) to build the C peer')

/** An error's code and message, to compare whole. */
const pick = (error) => ({ code: error?.code, message: error?.message })

/** A new channel and a second handle attached to it, closed when the test ends. */
function pair(t, capacity = 1024) {
  const name = uniqueName('chan')
  const sender = new Channel(name, { capacity })
  const receiver = new Channel(name, { create: false })
  t.after(() => {
    receiver.close()
    sender.close()
  })
  return { name, sender, receiver }
}

/**
 * Fills `channel` to the last byte: 100-byte messages until one does not fit, then empty ones
 * (the smallest frame). Returns how many of each went in.
 */
function fill(channel) {
  let count = 0
  while (channel.send(Buffer.alloc(100, count), 0)) count++
  let empty = 0
  while (channel.send(Buffer.alloc(0), 0)) empty++
  return { count, empty }
}

/** Receives what fill() sent. */
function drain(channel, { count, empty }, from = 0) {
  for (let i = from; i < count; i++) assert.deepEqual(channel.receive(0), Buffer.alloc(100, i))
  for (let i = 0; i < empty; i++) assert.deepEqual(channel.receive(0), Buffer.alloc(0))
}

/**
 * The byte offset in block `name` of the word that process `pid`'s main thread sleeps on in a
 * futex (Linux; null elsewhere, or when it sleeps on no word of that block).
 */
function sleepsOnWord(pid, name) {
  if (process.platform !== 'linux') return null
  const [, address] = fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const fields = line.split(/\s+/)
    if (fields[5] !== `/dev/shm/${name}`) continue
    const [start, end] = fields[0].split('-').map((hex) => BigInt(`0x${hex}`))
    const word = BigInt(address)
    if (word >= start && word < end) return Number(word - start + BigInt(`0x${fields[2]}`))
  }
  return null
}

/** A child peer that blocks in one receive (or send); resolves once it sleeps there. */
async function blockedPeer(name, kind, ...args) {
  const peer = startChild('channel-peer.js', [name, kind, ...args])
  await peer.next((m) => m.ready)
  await whenSleeping(peer.child.pid)
  return peer
}

test('strings arrive as strings and bytes as Buffers of their own, in order', { skip: supported !== true && supported }, (t) => {
  const { sender, receiver } = pair(t)
  const messages = ['hello', '', 'żółć ☃ 😀', Buffer.from([0, 1, 2, 255]), new Uint16Array([1, 0xffff]), new DataView(new ArrayBuffer(3)), new ArrayBuffer(2), Buffer.alloc(0)]
  for (const message of messages) assert.equal(sender.send(message), true)
  assert.equal(receiver.receive(0), 'hello')
  assert.equal(receiver.receive(0), '')
  assert.equal(receiver.receive(0), 'żółć ☃ 😀')
  const bytes = receiver.receive(0)
  assert.deepEqual(bytes, Buffer.from([0, 1, 2, 255]))
  assert.deepEqual(receiver.receive(0), Buffer.from([1, 0, 0xff, 0xff]))
  assert.deepEqual(receiver.receive(0), Buffer.alloc(3))
  assert.deepEqual(receiver.receive(0), Buffer.alloc(2))
  assert.deepEqual(receiver.receive(0), Buffer.alloc(0))
  assert.equal(receiver.receive(0), undefined)
  // A Buffer of its own: later messages over the same bytes of the ring leave it alone.
  for (let i = 0; i < 50; i++) {
    sender.send(Buffer.alloc(64, i))
    assert.deepEqual(receiver.receive(0), Buffer.alloc(64, i))
  }
  assert.deepEqual(bytes, Buffer.from([0, 1, 2, 255]))
})

test('messages of every length wrap around the ring intact', { skip: supported !== true && supported }, (t) => {
  const { sender, receiver } = pair(t, 200)
  for (let i = 0; i < 2000; i++) {
    const length = (i * 53) % 201
    const message = i % 2 ? Buffer.alloc(length, i) : 'é'.repeat(length >> 1)
    assert.equal(sender.send(message, 0), true, `message ${i} of ${length} bytes`)
    assert.deepEqual(receiver.receive(0), message, `message ${i}`)
  }
  // The largest message fits wherever the ring stands.
  for (let i = 0; i < 5; i++) {
    sender.send(Buffer.alloc(1 + i * 30))
    receiver.receive(0)
    assert.equal(sender.send(Buffer.alloc(200, 7), 0), true)
    assert.deepEqual(receiver.receive(0), Buffer.alloc(200, 7))
  }
})

test('the smallest channel (capacity 1) carries one byte at a time', { skip: supported !== true && supported }, (t) => {
  const { sender, receiver } = pair(t, 1)
  assert.equal(sender.capacity, 1)
  for (let i = 0; i < 100; i++) {
    assert.equal(sender.send(Buffer.from([i]), 0), true)
    assert.equal(sender.send('x', 0), false, 'one message fills it')
    assert.deepEqual(receiver.receive(0), Buffer.from([i]))
  }
  assert.equal(thrown(() => sender.send('xy')).code, 'ERR_OUT_OF_RANGE')
})

test('a message larger than the channel can hold is a RangeError and sends nothing', { skip: supported !== true && supported }, (t) => {
  const { name, sender, receiver } = pair(t, 100)
  const tooLarge = thrown(() => sender.send(Buffer.alloc(101)))
  assert.ok(tooLarge instanceof RangeError)
  assert.equal(tooLarge.code, 'ERR_OUT_OF_RANGE')
  assert.equal(tooLarge.message, `a message of 101 bytes is larger than channel "${name}" can hold (100 bytes)`)
  // Fewer characters than the capacity, more bytes in UTF-8.
  assert.deepEqual(pick(thrown(() => sender.send('€'.repeat(34)))), { code: 'ERR_OUT_OF_RANGE', message: `a message of 102 bytes is larger than channel "${name}" can hold (100 bytes)` })
  assert.equal(receiver.receive(0), undefined)
  assert.equal(sender.send('€'.repeat(33)), true)
  assert.equal(receiver.receive(0), '€'.repeat(33))
})

test('a full channel: send returns false after its timeout, and true once room comes back', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t, 1024)
  const filled = fill(sender)
  // 1024 + 16 bytes of frames: 8 of 16 + 112, then one empty message (16) fits.
  assert.deepEqual(filled, { count: 8, empty: 1 })
  assert.equal(sender.send('', 0), false)
  const started = performance.now()
  assert.equal(sender.send('', 40), false)
  assert.ok(performance.now() - started >= 39, 'waited for its timeout')
  assert.equal(await sender.sendAsync('', 20), false)
  // Longer than a 100 ms slice: the end of a slice is not the end of the wait.
  for (const send of [() => sender.send('', 250), () => sender.sendAsync('', 250)]) {
    const begun = performance.now()
    assert.equal(await send(), false)
    assert.ok(performance.now() - begun >= 249, 'waited through its slices to its timeout')
  }
  const { words } = rawWords(t, name)
  assert.equal(Atomics.load(words, 97), 0, 'no sender counted waiting')
  assert.deepEqual(receiver.receive(0), Buffer.alloc(100, 0))
  assert.equal(sender.send('after', 0), true)
  drain(receiver, filled, 1)
  assert.equal(receiver.receive(0), 'after')
  assert.equal(receiver.receive(0), undefined)
})

test('an empty channel: receive returns undefined after its timeout', { skip: supported !== true && supported }, async (t) => {
  const { name, receiver } = pair(t)
  assert.equal(receiver.receive(0), undefined)
  const started = performance.now()
  assert.equal(receiver.receive(30), undefined)
  assert.ok(performance.now() - started >= 29, 'waited for its timeout')
  assert.equal(await receiver.receiveAsync(20), undefined)
  // Longer than a 100 ms slice: the end of a slice is not the end of the wait.
  for (const receive of [() => receiver.receive(250), () => receiver.receiveAsync(250)]) {
    const begun = performance.now()
    assert.equal(await receive(), undefined)
    assert.ok(performance.now() - begun >= 249, 'waited through its slices to its timeout')
  }
  assert.equal(receiver.receiveInPlace(0), undefined)
  // Each of those counted itself waiting while it slept, and no longer; closing the handle
  // takes off nothing more.
  const { words } = rawWords(t, name)
  assert.equal(Atomics.load(words, 81), 0, 'no receiver counted waiting')
  receiver.close()
  assert.equal(Atomics.load(words, 81), 0, 'no receiver counted waiting after close()')
})

test('a receiver asleep in another process wakes for a message', { skip: supported !== true && supported }, async (t) => {
  const { name, sender } = pair(t)
  const peer = await blockedPeer(name, 'receive-one')
  if (process.platform === 'linux') assert.equal(sleepsOnWord(peer.child.pid, name), 320, 'asleep on DATA_SEQ')
  sender.send('wake up')
  assert.equal((await peer.next((m) => 'message' in m)).message, 'wake up')
})

test('a sender asleep on a full channel in another process wakes when room comes back', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t)
  const filled = fill(sender)
  const peer = await blockedPeer(name, 'send-one', 'from the peer')
  if (process.platform === 'linux') assert.equal(sleepsOnWord(peer.child.pid, name), 384, 'asleep on SPACE_SEQ')
  assert.deepEqual(receiver.receive(0), Buffer.alloc(100, 0))
  assert.equal((await peer.next((m) => 'sent' in m || 'error' in m)).sent, true)
  drain(receiver, filled, 1)
  assert.equal(receiver.receive(0), 'from the peer')
})

test('end(): sends throw, receivers drain, then get undefined at once, in every process', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t)
  sender.send('before')
  assert.equal(receiver.ended, false)
  receiver.end()
  assert.equal(sender.ended, true)
  const ended = thrown(() => sender.send('after'))
  assert.equal(ended.code, 'ERR_SHM_CHANNEL_ENDED')
  assert.equal(ended.message, `channel "${name}" has ended: it takes no more messages`)
  await assert.rejects(sender.sendAsync('after'), { code: 'ERR_SHM_CHANNEL_ENDED' })
  assert.equal(receiver.receive(), 'before')
  assert.equal(receiver.receive(), undefined) // no timeout: it has ended, so at once
  assert.equal(await receiver.receiveAsync(), undefined)
  receiver.end() // again: nothing changes
  assert.equal(receiver.ended, true)
})

test('end() wakes a receiver blocked in another process, and a sender blocked on a full channel', { skip: supported !== true && supported }, async (t) => {
  const first = pair(t)
  const receiverPeer = await blockedPeer(first.name, 'receive-one')
  first.sender.end()
  assert.equal((await receiverPeer.next((m) => 'message' in m)).message, null)

  const second = pair(t)
  fill(second.sender)
  const senderPeer = await blockedPeer(second.name, 'send-one', 'never')
  second.receiver.end()
  assert.equal((await senderPeer.next((m) => 'error' in m || 'sent' in m)).error, 'ERR_SHM_CHANNEL_ENDED')
})

test('for await yields every message until the channel ends', { skip: supported !== true && supported }, async (t) => {
  const { sender, receiver } = pair(t, 64)
  const received = []
  const consuming = (async () => {
    for await (const message of receiver) received.push(message)
  })()
  for (let i = 0; i < 200; i++) await sender.sendAsync(i % 2 ? `message ${i}` : Buffer.from([i]))
  sender.end()
  await consuming
  assert.equal(received.length, 200)
  received.forEach((message, i) => assert.deepEqual(message, i % 2 ? `message ${i}` : Buffer.from([i])))
})

test('an aborted receiveAsync takes nothing; an aborted sendAsync sends nothing', { skip: supported !== true && supported }, async (t) => {
  const { sender, receiver } = pair(t)
  const controller = new AbortController()
  const waiting = receiver.receiveAsync(Infinity, controller.signal)
  await whenAnyThreadSleepsOn(receiver)
  controller.abort(new Error('stop'))
  const aborted = await waiting.then(
    () => assert.fail('resolved'),
    (error) => error,
  )
  assert.equal(aborted.name, 'AbortError')
  assert.equal(aborted.code, 'ABORT_ERR')
  assert.equal(aborted.cause.message, 'stop')
  // It counted itself waiting while it slept, and counts no more; its listener is gone.
  const { words } = rawWords(t, receiver.name)
  assert.equal(Atomics.load(words, 81), 0, 'no receiver counted waiting')
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  // A wait that ends with a message also takes its listener off the signal.
  const kept = new AbortController()
  const served = receiver.receiveAsync(Infinity, kept.signal)
  await whenAnyThreadSleepsOn(receiver)
  sender.send('served')
  assert.equal(await served, 'served')
  assert.equal(getEventListeners(kept.signal, 'abort').length, 0, 'no listener left on the signal')
  sender.send('for the next one')
  assert.equal(receiver.receive(0), 'for the next one')

  const filled = fill(sender)
  const sendController = new AbortController()
  const sending = sender.sendAsync('never sent', Infinity, sendController.signal)
  await whenAnyThreadSleepsOn(sender)
  sendController.abort()
  await assert.rejects(sending, { name: 'AbortError' })
  drain(receiver, filled)
  assert.equal(receiver.receive(0), undefined, 'the aborted message is not in the channel')

  // Aborted before the call: rejected at once, nothing taken or sent.
  sender.send('stays')
  await assert.rejects(receiver.receiveAsync(Infinity, AbortSignal.abort()), { name: 'AbortError' })
  await assert.rejects(sender.sendAsync('not sent', Infinity, AbortSignal.abort()), { name: 'AbortError' })
  assert.equal(receiver.receive(0), 'stays')
  assert.equal(receiver.receive(0), undefined)
})

test('10,000 pending receiveAsync calls share one wait, and each gets one message', { skip: linuxOnly }, async (t) => {
  const { sender, receiver } = pair(t, 1 << 16)
  const pending = Array.from({ length: 10000 }, () => receiver.receiveAsync())
  // One wait (in the wait ring, or a thread) for all of them. (Waited for, not read once: at the
  // end of each 100 ms slice the wait is made again, and for a moment none sleeps.)
  await whenWaitersSleep(receiver, 1, { exactly: true })
  for (let i = 0; i < 10000; i++) await sender.sendAsync(`message ${i}`)
  const received = await Promise.all(pending)
  assert.equal(new Set(received).size, 10000)
  assert.ok(received.every((message) => message.startsWith('message ')))
  // Those that time out leave, and the last one to leave stops the shared wait.
  const timingOut = await Promise.all(Array.from({ length: 1000 }, () => receiver.receiveAsync(30)))
  assert.ok(timingOut.every((message) => message === undefined))
  await whenWaitersSleep(receiver, 0, { exactly: true }) // a thread notices within a wait slice
})

test('3 sender and 2 receiver processes: every message arrives exactly once, in each sender\'s order', { skip: supported !== true && supported }, async (t) => {
  const count = 3000
  const name = uniqueName('chan-load')
  const channel = new Channel(name, { capacity: 2048 }) // small: full, wrap-around and pads all the time
  const acksName = uniqueName('chan-acks')
  const ackBlock = new SharedMemory(acksName, { size: 2 * 3 * count })
  t.after(() => {
    ackBlock.close()
    channel.close()
  })
  const receivers = [0, 1].map(() => startChild('channel-peer.js', [name, 'receive', acksName, String(count)], { timeoutMs: 120000 }))
  const senders = [0, 1, 2].map((id) => startChild('channel-peer.js', [name, 'send', String(id), String(count), acksName], { timeoutMs: 120000 }))
  for (const sender of senders) assert.equal((await sender.next((m) => 'sent' in m)).sent, count)
  channel.end()
  const results = await Promise.all(receivers.map((receiver) => receiver.next((m) => 'received' in m)))
  assert.deepEqual(
    results.map((r) => r.disorder),
    [0, 0],
    'each sender\'s messages in order, with their kind and bytes',
  )
  assert.equal(results[0].received + results[1].received, 3 * count)
  const received = ackBlock.view.subarray(3 * count)
  assert.deepEqual(
    [...new Set(received)],
    [1],
    'every message received exactly once',
  )
  assert.ok(results.every((r) => r.received > 0), 'both receivers took messages')
})

test('peers killed mid-stream: the others go on, nothing is duplicated, at most the moving message is lost', { skip: linuxOnly, timeout: 180000 }, async (t) => {
  const count = 4000
  const name = uniqueName('chan-kill')
  const channel = new Channel(name, { capacity: 1024 })
  const acksName = uniqueName('chan-kill-acks')
  const ackBlock = new SharedMemory(acksName, { size: 2 * 3 * count })
  t.after(() => {
    ackBlock.close()
    channel.close()
  })
  const receive = () => startChild('channel-peer.js', [name, 'receive', acksName, String(count)], { timeoutMs: 150000 })
  const send = (id) => startChild('channel-peer.js', [name, 'send', String(id), String(count), acksName], { timeoutMs: 150000 })
  const receivers = [receive(), receive()]
  const senders = [send(0), send(1), send(2)]
  const sent = ackBlock.view.subarray(0, 3 * count)
  const received = ackBlock.view.subarray(3 * count)
  const progress = () => received.reduce((sum, n) => sum + n, 0)
  const until = async (test) => {
    while (!test()) await new Promise((resolve) => setTimeout(resolve, 2))
  }
  // Mid-stream: a receiver, then a sender, killed while messages flow.
  await until(() => progress() > 1500)
  receivers[0].child.kill('SIGKILL')
  await receivers[0].exited
  await until(() => progress() > 3000)
  senders[2].child.kill('SIGKILL')
  await senders[2].exited
  for (const sender of senders.slice(0, 2)) assert.equal((await sender.next((m) => 'sent' in m)).sent, count)
  channel.end()
  const result = await receivers[1].next((m) => 'received' in m)
  assert.equal(result.disorder, 0)
  const duplicated = received.filter((n) => n > 1).length
  assert.equal(duplicated, 0, 'no message received twice')
  // Every message whose send returned was received, except the one the killed receiver had taken
  // but not yet counted; and nothing arrived that was never sent (the killed sender's last one
  // may have gone in just before it was killed, uncounted).
  const lost = [...sent.keys()].filter((i) => sent[i] === 1 && received[i] === 0)
  assert.ok(lost.length <= 1, `lost: ${lost}`)
  const unsent = [...received.keys()].filter((i) => received[i] === 1 && sent[i] === 0)
  assert.ok(unsent.length <= 1 && unsent.every((i) => Math.floor(i / count) === 2), `received but never counted as sent: ${unsent}`)
  assert.ok(sent.subarray(2 * count).some((n) => n === 0), 'the killed sender was killed mid-stream')
})

test('a sender killed holding the send lock, or a receiver holding the receive lock, blocks no one', { skip: linuxOnly }, async (t) => {
  // The worst instant: inside the locked part. A peer that takes the lock as the channel does
  // (it is the block's lock at its format's offset) and is killed there.
  const { name, sender, receiver } = pair(t)
  for (const [offset, run] of [
    [64, () => assert.equal(sender.send('after the send lock owner died', 5000), true)],
    [192, () => assert.equal(receiver.receive(5000), 'after the send lock owner died')],
  ]) {
    const holder = startChild('locker.js', [name, 'hold', String(offset)])
    assert.equal((await holder.next((m) => 'held' in m)).held, 'acquired')
    holder.child.kill('SIGKILL')
    await holder.exited
    run()
  }
  assert.equal(receiver.receive(0), undefined)
})

test('senders and receivers in worker threads', { skip: supported !== true && supported }, async (t) => {
  const { name, receiver } = pair(t, 512)
  const code = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { Channel } = require(${JSON.stringify(require.resolve('..'))})
    const channel = new Channel(workerData.name, { create: false })
    ;(async () => {
      for (let i = 0; i < 500; i++) {
        if (i % 2) channel.send(workerData.id + ':' + i)
        else await channel.sendAsync(workerData.id + ':' + i)
      }
      channel.close()
      parentPort.postMessage('done')
    })()`
  const workers = [0, 1].map((id) => new Worker(code, { eval: true, workerData: { name, id } }))
  const done = Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('message', resolve))))
  const seen = [[], []]
  while (seen[0].length + seen[1].length < 1000) {
    const message = await receiver.receiveAsync(10000)
    assert.notEqual(message, undefined, 'a message within 10 s')
    const [id, i] = message.split(':').map(Number)
    seen[id].push(i)
  }
  await done
  const expected = Array.from({ length: 500 }, (_, i) => i)
  assert.deepEqual(seen, [expected, expected])
})

test('receiveInPlace: the bytes in the channel, their room kept until release()', { skip: supported !== true && supported }, (t) => {
  const { sender, receiver } = pair(t, 256)
  sender.send('héllo')
  sender.send(Buffer.alloc(100, 7))
  const text = receiver.receiveInPlace(0)
  const bytes = receiver.receiveInPlace(0)
  assert.equal(text.isText, true)
  assert.equal(text.bytes.toString(), 'héllo')
  assert.equal(bytes.isText, false)
  assert.deepEqual(bytes.bytes, Buffer.alloc(100, 7))
  // In place: the same memory as the channel's block.
  assert.equal(bytes.bytes.buffer, text.bytes.buffer)
  // 272 bytes of frames: 32 and 128 held, so a 128-byte frame after a pad does not fit ...
  assert.equal(sender.send(Buffer.alloc(100), 0), false)
  text.release()
  assert.equal(sender.send(Buffer.alloc(100), 0), false)
  // ... until both are given back.
  bytes.release()
  bytes.release() // again: nothing
  assert.equal(sender.send(Buffer.alloc(100, 9), 0), true)
  assert.deepEqual(receiver.receive(0), Buffer.alloc(100, 9))
})

test('the room of an in-place message comes back when its receiver is killed', { skip: linuxOnly }, async (t) => {
  const { name, sender, receiver } = pair(t, 256)
  sender.send(Buffer.alloc(200, 1))
  const holder = startChild('channel-peer.js', [name, 'hold-in-place'])
  assert.equal((await holder.next((m) => 'held' in m)).held, Buffer.alloc(200, 1).toString())
  assert.equal(sender.send(Buffer.alloc(200, 2), 0), false, 'held: no room')
  holder.child.kill('SIGKILL')
  await holder.exited
  assert.equal(sender.send(Buffer.alloc(200, 2), 5000), true)
  assert.deepEqual(receiver.receive(0), Buffer.alloc(200, 2))
})

test('attaching: create: false, if-missing, and what is not a channel', { skip: supported !== true && supported }, (t) => {
  const name = uniqueName('chan-attach')
  assert.equal(thrown(() => new Channel(name, { create: false })).code, 'ERR_SHM_NOT_FOUND')
  const first = new Channel(name, { capacity: 300, create: 'if-missing' })
  // Attached whatever capacity it asks for: smaller, or larger than the channel's.
  const second = new Channel(name, { capacity: 5, create: 'if-missing' })
  const third = new Channel(name, { capacity: 5000, create: 'if-missing' })
  t.after(() => {
    third.close()
    second.close()
    first.close()
  })
  assert.equal(second.capacity, 300, 'the channel\'s own capacity')
  assert.equal(third.capacity, 300)
  assert.equal(second.name, name)
  first.send(Buffer.alloc(300, 3))
  assert.deepEqual(third.receive(0), Buffer.alloc(300, 3))
  assert.equal(thrown(() => new Channel(name, { capacity: 300 })).code, 'ERR_SHM_EXISTS')

  // A block that never got a channel header: refused after a moment's grace.
  const plain = uniqueName('chan-plain')
  const block = new SharedMemory(plain, { size: 4096 })
  t.after(() => block.close())
  const never = thrown(() => new Channel(plain, { create: false }))
  assert.equal(never.code, 'ERR_SHM_NOT_A_CHANNEL')
  assert.equal(never.message, `shared memory block "${plain}" is not a channel this release can open: its header was never written`)
  block.view.writeUInt32LE(0x12345678, 0)
  assert.match(thrown(() => new Channel(plain, { create: false })).message, /does not start with a channel header/)
  block.view.writeUInt32LE(0x434d4853, 0)
  block.view.writeUInt32LE(2, 4)
  assert.match(thrown(() => new Channel(plain, { create: false })).message, /its format is version 2, this release speaks version 1/)
  block.view.writeUInt32LE(1, 4)
  block.view.writeUInt32LE(1 << 20, 8) // a data area larger than the block
  assert.match(thrown(() => new Channel(plain, { create: false })).message, /describes 1048576 bytes of frames/)
})

test('bad arguments: TypeError and RangeError, with the channel unchanged', { skip: supported !== true && supported }, async (t) => {
  const name = uniqueName('chan-args')
  for (const options of [undefined, null, 5, 'capacity']) {
    const error = thrown(() => new Channel(name, options))
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
    assert.match(error.message, /^options must be an object, got /)
  }
  assert.equal(thrown(() => new Channel(name, {})).message, 'capacity must be a number, got undefined')
  for (const capacity of [0, -1, 1.5, NaN, 2 ** 30, Infinity]) {
    const error = thrown(() => new Channel(name, { capacity }))
    assert.ok(error instanceof RangeError, String(capacity))
    assert.equal(error.message, `capacity must be an integer from 1 to ${2 ** 30 - 16}, got ${capacity}`)
  }
  assert.equal(SharedMemory.exists(name), false, 'no block was left behind')

  const { sender, receiver } = pair(t)
  for (const message of [42, null, undefined, {}, [1], Symbol('s')]) {
    const error = thrown(() => sender.send(message))
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
    assert.match(error.message, /^message must be a string, Buffer, TypedArray, DataView or ArrayBuffer, got /)
    await assert.rejects(sender.sendAsync(message), { code: 'ERR_INVALID_ARG_TYPE' })
  }
  for (const timeout of ['1', 1n, {}]) {
    for (const error of [thrown(() => receiver.receive(timeout)), thrown(() => sender.send('x', timeout))]) {
      assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
      assert.match(error.message, /^timeoutMs must be a number, got /)
    }
  }
  for (const timeout of [-1, NaN, -Infinity]) {
    const message = `timeoutMs must be a non-negative number or Infinity, got ${timeout}`
    assert.deepEqual(pick(thrown(() => receiver.receive(timeout))), { code: 'ERR_OUT_OF_RANGE', message })
    await assert.rejects(receiver.receiveAsync(timeout), { code: 'ERR_OUT_OF_RANGE', message })
  }
  await assert.rejects(receiver.receiveAsync(0, 'signal'), { code: 'ERR_INVALID_ARG_TYPE', message: /^signal must be an AbortSignal, got / })
  assert.equal(receiver.receive(0), undefined, 'nothing was sent by the refused calls')
  for (const member of ['send', 'receive', 'end', 'close', Symbol.asyncIterator]) {
    for (const value of [{}, undefined, null, 5, 'channel']) {
      const error = thrown(() => Channel.prototype[member].call(value))
      assert.equal(error.code, 'ERR_INVALID_THIS', `${String(member)} on ${String(value)}`)
      assert.equal(error.message, 'Value of "this" must be of type Channel')
    }
  }
  for (const value of [{}, undefined, null, 5, receiver]) {
    const error = thrown(() => Channel.InPlaceMessage.prototype.release.call(value))
    assert.equal(error.code, 'ERR_INVALID_THIS', `release on ${String(value)}`)
    assert.equal(error.message, 'Value of "this" must be of type InPlaceMessage')
  }
})

test('close(): the creator removes the name, members throw ERR_SHM_CLOSED, a pending receiveAsync rejects', { skip: supported !== true && supported }, async (t) => {
  const name = uniqueName('chan-close')
  const channel = new Channel(name, { capacity: 64 })
  const other = new Channel(name, { create: false })
  const pending = other.receiveAsync()
  await whenAnyThreadSleepsOn(other)
  other.close()
  await assert.rejects(pending, { code: 'ERR_SHM_CLOSED' })
  assert.equal(other.closed, true)
  for (const call of [() => other.send('x'), () => other.receive(0), () => other.end(), () => other.ended, () => other.receiveInPlace(0)]) {
    const error = thrown(call)
    assert.equal(error.code, 'ERR_SHM_CLOSED')
    assert.equal(error.message, `shared memory block "${name}" is closed`)
  }
  other.close() // again: nothing
  assert.equal(SharedMemory.exists(name), true)
  channel.close()
  assert.equal(SharedMemory.exists(name), false)
})

test('a hostile header or frame is ERR_SHM_CHANNEL_CORRUPT, never an endless loop (each case in a process of its own)', { skip: supported !== true && supported }, async (t) => {
  for (const [kind, message, capacity = 48] of [
    ['pad-past-write', /the frame at 0 has kind 3 and size \d+/],
    ['taken-frame-resized', /the frame at 0 has kind 2 and size 16/],
    ['read-ahead-of-write', /its positions are out of order \(read 96, write 64\)/],
    ['write-misaligned', /position word 32 holds 12345$/],
    ['frame-too-large', /the frame at 0 has kind 2 and size 1048576$/],
    ['free-misaligned', /position word 33 holds 7$/],
    ['read-ahead-for-a-sender', /its positions are out of order \(free 0, read 96, write 64\)$/],
    ['write-a-lap-ahead', /its positions are out of order \(free 0, read 80, write 80\)$/],
    ['write-negative', /position word 32 holds 4294967280$/],
    ['write-at-twice-the-data-area', /position word 32 holds 128$/],
    ['write-misaligned-within', /position word 32 holds 8$/],
    ['frame-unknown-kind', /the frame at 0 has kind 7 and size 1$/],
    ['frame-over-capacity', /the frame at 0 has kind 2 and size 44$/, 40],
    ['frame-past-the-end', /the frame at 32 has kind 2 and size 32$/],
    ['claimed-before-taken', /the frame at 0 is claimed before it was taken$/],
  ]) {
    const { name } = pair(t, capacity) // 64 bytes of frames
    const child = startChild('channel-hostile.js', [name, kind], { timeoutMs: 10000 })
    const result = await child.next((m) => 'outcome' in m || 'error' in m)
    assert.equal(result.error, 'ERR_SHM_CHANNEL_CORRUPT', `${kind}: ${JSON.stringify(result)}`)
    assert.match(result.message, message, kind)
  }
})

test('a frame is used as it was checked, while a peer changes its size (in a process of its own)', { skip: supported !== true && supported }, async (t) => {
  const { name } = pair(t, 48) // 64 bytes of frames
  const child = startChild('channel-hostile.js', [name, 'size-flipping'], { timeoutMs: 20000 })
  const { outcome, error, message } = await child.next((m) => 'outcome' in m || 'error' in m)
  assert.equal(error, undefined, JSON.stringify({ error, message }))
  // Every message was 'hello' or the corrupt frame's error, and both happened: the race ran.
  assert.deepEqual(outcome, { sawBoth: true, other: [] })
})

test('[Symbol.dispose]() closes a channel, and releases an in-place message', { skip: (typeof Symbol.dispose !== 'symbol' && 'no Symbol.dispose in this Node') || (supported !== true && supported) }, (t) => {
  const { name, sender, receiver } = pair(t, 48) // room for one 48-byte message
  sender.send(Buffer.alloc(48, 7))
  const held = receiver.receiveInPlace(0)
  assert.equal(sender.send(Buffer.alloc(48, 8), 0), false, 'held: no room')
  held[Symbol.dispose]()
  assert.equal(sender.send(Buffer.alloc(48, 8), 0), true, 'released: room again')
  const other = new Channel(name, { create: false })
  other[Symbol.dispose]()
  assert.equal(other.closed, true)
  assert.equal(receiver.closed, false)
  const descriptor = Object.getOwnPropertyDescriptor(Channel.prototype, Symbol.dispose)
  assert.deepEqual({ writable: descriptor.writable, enumerable: descriptor.enumerable, configurable: descriptor.configurable }, { writable: true, enumerable: false, configurable: true })
})

test('a text message longer than a string may be is taken and dropped with ERR_SHM_TOO_LARGE; the next one arrives (in a process of its own)', { skip: supported !== true && supported }, async (t) => {
  const { MAX_STRING_LENGTH } = require('node:buffer').constants
  const { name } = pair(t, MAX_STRING_LENGTH + 64)
  const child = startChild('channel-hostile.js', [name, 'text-too-long-for-a-string'], { timeoutMs: 60000 })
  const { outcome, error, message } = await child.next((m) => 'outcome' in m || 'error' in m)
  assert.equal(error, undefined, JSON.stringify({ error, message }))
  assert.deepEqual(outcome, {
    code: 'ERR_SHM_TOO_LARGE',
    message: `a text message of ${MAX_STRING_LENGTH + 1} bytes in channel "${name}" is longer than a string may be: it was taken from the channel and dropped`,
    next: 'abc',
    then: null,
  })
})

test('an in-place message closed before its release() gives its room back, also with another handle open here', { skip: supported !== true && supported }, (t) => {
  const { name, sender, receiver } = pair(t, 48) // room for one 48-byte message
  const another = new Channel(name, { create: false }) // keeps this thread marked alive in the block
  t.after(() => another.close())
  sender.send(Buffer.alloc(48, 1))
  const held = receiver.receiveInPlace(0)
  assert.deepEqual(held.bytes, Buffer.alloc(48, 1))
  assert.equal(sender.send(Buffer.alloc(48, 2), 0), false, 'held: no room')
  receiver.close()
  held.release() // after close(): nothing more to give back
  assert.equal(sender.send(Buffer.alloc(48, 2), 0), true)
  assert.deepEqual(another.receive(0), Buffer.alloc(48, 2))
})

test('a sender asleep on room held in place wakes once the holder is killed', { skip: linuxOnly }, async (t) => {
  const { name, sender, receiver } = pair(t, 256)
  sender.send(Buffer.alloc(200, 1))
  const holder = startChild('channel-peer.js', [name, 'hold-in-place'])
  await holder.next((m) => 'held' in m)
  const sending = sender.sendAsync(Buffer.alloc(200, 2), 10000)
  await whenAnyThreadSleepsOn(sender) // asleep: nothing will wake it but a look at the room
  holder.child.kill('SIGKILL')
  await holder.exited
  assert.equal(await sending, true)
  assert.deepEqual(receiver.receive(0), Buffer.alloc(200, 2))
})

test('several sendAsync calls asleep on room held in place all go on at the slice where the first finds it freed', { skip: linuxOnly }, async (t) => {
  // Nothing wakes them when the holder is killed: at the end of a slice one of them looks at the
  // ring for all. It finds room and does not come back to wait, so the others look at once too,
  // in the next turn of the event loop, not one per slice.
  const { name, sender, receiver } = pair(t, 256)
  sender.send(Buffer.alloc(200, 1))
  const holder = startChild('channel-peer.js', [name, 'hold-in-place'])
  await holder.next((m) => 'held' in m)
  const sending = [1, 2, 3].map((fill) => sender.sendAsync(Buffer.alloc(40, fill), 10000)) // 40 bytes left: none fits
  const raw = new SharedMemory(name, { create: false })
  t.after(() => raw.close())
  while (raw.view.readInt32LE(388) !== 3) await new Promise((resolve) => setTimeout(resolve, 5)) // senders waiting
  await whenAnyThreadSleepsOn(sender)
  const settled = []
  sending.forEach((pending, index) => pending.then(() => settled.push(index)))
  holder.child.kill('SIGKILL')
  await holder.exited
  await Promise.race(sending)
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled.length, 3, `${settled.length} of the 3 calls went on at the slice where the first did`)
  assert.deepEqual(await Promise.all(sending), [true, true, true])
  assert.deepEqual([1, 2, 3].map(() => receiver.receive(0)), [1, 2, 3].map((fill) => Buffer.alloc(40, fill)))
})

test('idle receiveAsync calls of one channel object look at the ring once per slice between them, not once each', { skip: supported !== true && supported }, async () => {
  // At the end of a 100 ms slice with no wake-up only one of them looks, for all: 1,000 idle
  // calls that each looked took about 10,000 looks a second (half a core for 10,000 calls).
  const child = startChild('channel-idle-looks.js', [])
  const { looks, slices } = await child.next((m) => 'looks' in m)
  assert.ok(slices >= 9, `the fixture waited ${slices} slices`)
  assert.ok(looks >= 1 && looks < 200, `${looks} looks at the ring in ${slices.toFixed(1)} slices`)
})

/**
 * Three receiveAsync calls of one channel object asleep on its data word, counted waiting, and
 * `publish(i)`: writes frame i (16 bytes of i + 1) where a sender writes it, then WRITE past it,
 * with no bump and no notify, as a sender killed between publishing and waking leaves it (the
 * data area starts at byte 512; a header is size, kind 2 for bytes, and a free claim).
 */
async function asleepReceivers(t) {
  const { name, receiver } = pair(t, 1024)
  const pending = [0, 1, 2].map(() => receiver.receiveAsync(10000))
  const raw = new SharedMemory(name, { create: false })
  t.after(() => raw.close())
  const words = new Int32Array(raw.view.buffer, raw.view.byteOffset, raw.view.length >> 2)
  while (Atomics.load(words, 81) !== 3) await new Promise((resolve) => setTimeout(resolve, 5)) // receivers waiting
  await whenAnyThreadSleepsOn(receiver)
  const publish = (i) => {
    const at = 512 + 32 * i
    raw.view.writeUInt32LE(16, at)
    raw.view.writeUInt32LE(2, at + 4)
    raw.view.fill(i + 1, at + 16, at + 32)
    Atomics.store(words, 32, 32 * (i + 1))
  }
  return { name, receiver, pending, raw, words, publish }
}

test('messages published with no wake-up reach every pending receiveAsync at the slice where the first is found', { skip: linuxOnly }, async (t) => {
  // As a sender killed between publishing and waking leaves them. At the end of a slice one call
  // looks at the ring for all; it takes a message and does not come back to wait, so the others
  // look at once too, in the next turn of the event loop, not one per slice.
  const { name, receiver, pending, publish } = await asleepReceivers(t)
  for (let i = 0; i < 3; i++) publish(i)
  const settled = []
  for (const receiving of pending) receiving.then((message) => settled.push(message))
  await Promise.race(pending)
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled.length, 3, `${settled.length} of the 3 calls got a message at the slice where the first did`)
  assert.deepEqual(await Promise.all(pending), [1, 2, 3].map((fill) => Buffer.alloc(16, fill)))
  // The word is as it was: a call that waits for it now gets a wait that a send still wakes.
  const later = receiver.receiveAsync(10000)
  await whenAnyThreadSleepsOn(receiver)
  const peer = new Channel(name, { create: false })
  t.after(() => peer.close())
  peer.send('after')
  assert.equal(await later, 'after')
})

test('a call that comes to wait while the one sent to look is away does not keep the others asleep', { skip: linuxOnly }, async (t) => {
  // As a receiver that, given its message, asks for the next one at once: the new call finds
  // nothing and waits, then a message comes with no wake-up (its sender killed before it woke
  // anyone). The call sent to look did not come back, so the others look in the next turn.
  const { receiver, pending, raw, words, publish } = await asleepReceivers(t)
  let next
  const settled = []
  for (const receiving of pending) {
    receiving.then((message) => {
      settled.push(message)
      if (settled.length !== 1) return
      next = receiver.receiveAsync(10000) // finds nothing, and waits with the others
      publish(1)
    })
  }
  publish(0)
  await Promise.race(pending)
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled.length, 2, `${settled.length} calls had a message before the next slice`)
  assert.deepEqual(settled, [1, 2].map((fill) => Buffer.alloc(16, fill)))
  publish(2)
  Atomics.store(words, 80, Atomics.load(words, 80) + 1) // the data sequence, then a notify: a sender's wake-up
  raw.notify(320)
  const rest = await Promise.all([...pending, next])
  assert.equal(rest.filter((message) => Buffer.isBuffer(message) && message[0] === 3).length, 1)
})

test('close() with calls still waiting leaves the waiting counts as they were', { skip: supported !== true && supported }, async (t) => {
  const { name, sender } = pair(t, 48)
  const raw = new SharedMemory(name, { create: false })
  t.after(() => raw.close())
  const counts = () => [raw.view.readInt32LE(324), raw.view.readInt32LE(388)] // receivers, senders waiting
  const other = new Channel(name, { create: false })
  const receiving = [other.receiveAsync(), other.receiveAsync(5000)]
  await whenAnyThreadSleepsOn(other)
  assert.deepEqual(counts(), [2, 0])
  other.close()
  for (const pending of receiving) await assert.rejects(pending, { code: 'ERR_SHM_CLOSED' })
  assert.deepEqual(counts(), [0, 0])
  const third = new Channel(name, { create: false })
  third.send(Buffer.alloc(48))
  const sending = third.sendAsync(Buffer.alloc(48))
  await whenAnyThreadSleepsOn(third)
  assert.deepEqual(counts(), [0, 1])
  third.close()
  await assert.rejects(sending, { code: 'ERR_SHM_CLOSED' })
  assert.deepEqual(counts(), [0, 0])
  assert.deepEqual(sender.receive(0), Buffer.alloc(48))
})

test('a message whose buffer grows or shrinks while it waits for room sends exactly what was measured, or nothing', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t, 64)
  sender.send(Buffer.alloc(64, 0x41)) // full
  const growing = new ArrayBuffer(16, { maxByteLength: 64 })
  new Uint8Array(growing).fill(0x42)
  const grows = sender.sendAsync(new Uint8Array(growing)) // a length-tracking view
  growing.resize(64)
  new Uint8Array(growing).fill(0x43, 16)
  assert.deepEqual(receiver.receive(0), Buffer.alloc(64, 0x41))
  assert.equal(await grows, true)
  sender.send(Buffer.alloc(8, 0x44))
  assert.deepEqual(receiver.receive(0), Buffer.alloc(16, 0x42), 'the 16 bytes it had when sent')
  assert.deepEqual(receiver.receive(0), Buffer.alloc(8, 0x44), 'the next message untouched')

  sender.send(Buffer.alloc(64, 0x41)) // full again
  const shrinking = new ArrayBuffer(32, { maxByteLength: 64 })
  const shrinks = sender.sendAsync(new Uint8Array(shrinking, 0, 32))
  shrinking.resize(8)
  receiver.receive(0)
  const error = await shrinks.then(() => assert.fail('sent'), (e) => e)
  assert.equal(error.code, 'ERR_SHM_MESSAGE_CHANGED')
  assert.equal(error.message, `the message of 32 bytes for channel "${name}" was resized or detached before it could be sent: nothing was sent`)
  assert.equal(receiver.receive(0), undefined)
})

test('async timeouts longer than a Node timer (2^31 ms) still wait', { skip: supported !== true && supported }, async (t) => {
  const { sender, receiver } = pair(t, 48)
  const receiving = receiver.receiveAsync(2 ** 31)
  const later = await Promise.race([receiving, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 300))])
  assert.equal(later, 'still waiting')
  sender.send('now')
  assert.equal(await receiving, 'now')
})

// Timers fire in the order they expire, each followed by its microtasks: a call's 5 ms timer ends
// it before a 50 ms timer of the test moves a message. A call that missed its own timer would sleep
// on into its wait slice (100 ms), wake for that message and take or send it.
test('an async timeout shorter than a wait slice ends the call at its own timer', { skip: supported !== true && supported }, async (t) => {
  const { sender, receiver } = pair(t)
  const receiving = receiver.receiveAsync(5)
  const late = new Promise((resolve) => setTimeout(() => resolve(sender.send('late', 0)), 50))
  assert.equal(await receiving, undefined)
  assert.equal(await late, true)
  assert.equal(receiver.receive(0), 'late', 'the late message stayed in the channel')

  const filled = fill(sender)
  const sending = sender.sendAsync('not sent', 5)
  const freed = new Promise((resolve) => setTimeout(() => resolve(receiver.receive(0)), 50))
  assert.equal(await sending, false)
  assert.deepEqual(await freed, Buffer.alloc(100, 0))
  drain(receiver, filled, 1)
  assert.equal(receiver.receive(0), undefined, 'the timed-out message is not in the channel')
})

// Calls of one handle that wait for the same share one wait: one that leaves early (its timer)
// must not stop the wait for the others.
test('an async call that times out leaves the shared wait running for the calls still in it', { skip: supported !== true && supported }, async (t) => {
  const { sender, receiver } = pair(t)
  const short = receiver.receiveAsync(5)
  const long = receiver.receiveAsync(10000)
  const late = new Promise((resolve) => setTimeout(() => resolve(sender.send('late', 0)), 50))
  assert.equal(await short, undefined)
  assert.equal(await late, true)
  assert.equal(await long, 'late')
})

// Without its abort listener, such a call would run to its timer (50 ms) and answer a timeout.
test('an abort during an async wait with a timeout rejects with the AbortError, not a timeout', { skip: supported !== true && supported }, async (t) => {
  const { sender, receiver } = pair(t)
  const controller = new AbortController()
  const receiving = receiver.receiveAsync(50, controller.signal)
  controller.abort(new Error('receive stopped'))
  const receiveError = await receiving.then(() => assert.fail('resolved'), (error) => error)
  assert.deepEqual([receiveError.name, receiveError.cause?.message], ['AbortError', 'receive stopped'])

  const filled = fill(sender)
  const sendController = new AbortController()
  const sending = sender.sendAsync('not sent', 50, sendController.signal)
  sendController.abort(new Error('send stopped'))
  const sendError = await sending.then(() => assert.fail('resolved'), (error) => error)
  assert.deepEqual([sendError.name, sendError.cause?.message], ['AbortError', 'send stopped'])
  drain(receiver, filled)
  assert.equal(receiver.receive(0), undefined)
})

// A lock word naming this thread can only be planted (by a hostile or broken peer): the blocking
// call that meets it throws ERR_SHM_DEADLOCK, and takes its waiting count back on the way out.
test('a receive lock planted with this thread\'s token: a blocking receive throws ERR_SHM_DEADLOCK and uncounts itself', { skip: supported !== true && supported }, async (t) => {
  const { name, receiver } = pair(t)
  const scratch = new SharedMemory(uniqueName('token'), 8)
  assert.equal(scratch.lock(0), 'acquired')
  const token = new BigInt64Array(scratch.view.buffer, scratch.view.byteOffset, 1)[0]
  scratch.unlock(0)
  scratch.close()
  const { words } = rawWords(t, name)
  const locks = new BigInt64Array(words.buffer, words.byteOffset, 32)
  const planter = new Worker(
    `
    const { workerData } = require('node:worker_threads')
    const { SharedMemory } = require(${JSON.stringify(require.resolve('..'))})
    const block = new SharedMemory(workerData.name, { create: false })
    const words = new Int32Array(block.view.buffer, block.view.byteOffset, 128)
    const locks = new BigInt64Array(block.view.buffer, block.view.byteOffset, 32)
    const nap = new Int32Array(new SharedArrayBuffer(4))
    while (Atomics.load(words, 81) === 0) Atomics.wait(nap, 0, 0, 1) // until the receiver counts itself waiting
    while (Atomics.compareExchange(locks, 24, 0n, workerData.token) !== 0n) Atomics.wait(nap, 0, 0, 1)
    Atomics.add(words, 80, 1)
    block.notify(320, Infinity)
    block.close()`,
    { eval: true, workerData: { name, token } },
  )
  const exited = new Promise((resolve) => planter.once('exit', resolve))
  const error = thrown(() => receiver.receive(10000))
  assert.equal(await exited, 0)
  assert.equal(error?.code, 'ERR_SHM_DEADLOCK', String(error))
  assert.equal(Atomics.load(words, 81), 0, 'no receiver counted waiting')
  assert.equal(Atomics.compareExchange(locks, 24, token, 0n), token, 'the planted word untouched')
  assert.equal(receiver.receive(0), undefined, 'the channel works again')
})

test('a pad left for a busy receiver wakes the sleeping ones, so the largest message gets through', { skip: linuxOnly }, async (t) => {
  const { name, sender, receiver } = pair(t, 48) // 64 bytes of frames
  sender.send(Buffer.alloc(0))
  receiver.receive(0) // READ and WRITE at 16 now
  const sleeper = await blockedPeer(name, 'receive-one', '8000')
  // Another process holds the receive lock: the sender cannot pass its pad itself.
  const holder = startChild('locker.js', [name, 'hold', '192'])
  await holder.next((m) => 'held' in m)
  const sending = sender.sendAsync(Buffer.alloc(48, 7), 8000) // needs the pad at 16..64 taken first
  await new Promise((resolve) => setTimeout(resolve, 200))
  holder.child.send('unlock')
  await holder.next((m) => m.unlocked)
  assert.equal(await sending, true)
  assert.deepEqual((await sleeper.next((m) => 'message' in m)).message, { bytes: [...Buffer.alloc(48, 7)] })
})

test('blocks too small to be a channel are ERR_SHM_NOT_A_CHANNEL, however they are opened', { skip: supported !== true && supported }, (t) => {
  // The smallest channel: the 512-byte header, one frame header and one 16-byte slot (544).
  for (const size of [3, 100, 511, 512, 543, 544]) {
    const name = uniqueName('chan-tiny')
    const block = new SharedMemory(name, { size })
    t.after(() => block.close())
    // Not a header either, so that nobody waits for one to be written.
    if (size >= 4) block.view.writeUInt32LE(0x12345678, 0)
    for (const create of [false, 'if-missing']) {
      // Capacity 16 asks for the smallest channel's 544 bytes.
      const error = thrown(() => new Channel(name, { create, capacity: 16 }))
      assert.equal(error.code, 'ERR_SHM_NOT_A_CHANNEL', `${size} bytes, create ${create}`)
      assert.match(error.message, size < 544 ? /smaller than the smallest channel/ : /does not start with a channel header/, `${size} bytes, create ${create}`)
    }
  }
})

test('a header that does not fit its block, or a capacity its frames cannot hold, is refused on attach', { skip: supported !== true && supported }, (t) => {
  const name = uniqueName('chan-header')
  const block = new SharedMemory(name, { size: 512 + 1024 })
  t.after(() => block.close())
  const header = (dataSize, capacity) => {
    block.view.writeUInt32LE(0x434d4853, 0)
    block.view.writeUInt32LE(1, 4)
    block.view.writeInt32LE(dataSize, 8)
    block.view.writeInt32LE(capacity, 12)
  }
  // Refused: no data area, one past the block, misaligned, no capacity, a capacity one byte
  // past what the frames hold.
  for (const [dataSize, capacity] of [[0, 8], [-16, 8], [1040, 8], [1000, 8], [1024, 0], [1024, -1], [1024, 1009]]) {
    header(dataSize, capacity)
    const error = thrown(() => new Channel(name, { create: false }))
    assert.deepEqual(pick(error), {
      code: 'ERR_SHM_NOT_A_CHANNEL',
      message: `shared memory block "${name}" is not a channel this release can open: its header describes ${dataSize} bytes of frames and messages up to ${capacity} bytes in a block of 1536 bytes`,
    })
  }
  // Accepted: the whole block, and the largest capacity its frames hold.
  for (const [dataSize, capacity] of [[1024, 1008], [1024, 8], [512, 496]]) {
    header(dataSize, capacity)
    const channel = new Channel(name, { create: false })
    assert.equal(channel.capacity, capacity)
    channel.close()
  }
})

test('if-missing: a bad name is the same error as with create: true; a foreign block is not a channel', { skip: supported !== true && supported }, (t) => {
  for (const name of ['a/b', '']) {
    assert.deepEqual(pick(thrown(() => new Channel(name, { capacity: 8, create: 'if-missing' }))), pick(thrown(() => new Channel(name, { capacity: 8 }))))
  }
  // A block whose first word is not a channel's, and whose data-size word would ask for more
  // than the block has: refused for what it is, without reopening it at that size.
  const name = uniqueName('chan-foreign')
  const block = new SharedMemory(name, { size: 4096 })
  t.after(() => block.close())
  block.view.writeUInt32LE(0x12345678, 0)
  block.view.writeUInt32LE(1 << 20, 8)
  const error = thrown(() => new Channel(name, { capacity: 5, create: 'if-missing' }))
  assert.deepEqual(pick(error), { code: 'ERR_SHM_NOT_A_CHANNEL', message: `shared memory block "${name}" is not a channel this release can open: it does not start with a channel header` })
})

test('if-missing on a channel header that describes more than its block holds: refused, not reopened forever (in a process of its own)', { skip: supported !== true && supported }, async (t) => {
  const name = uniqueName('chan-liar')
  const block = new SharedMemory(name, { size: 4096 })
  t.after(() => block.close())
  block.view.writeUInt32LE(1, 4)
  block.view.writeUInt32LE(1 << 20, 8)
  block.view.writeUInt32LE(8, 12)
  block.view.writeUInt32LE(0x434d4853, 0)
  const child = startChild('channel-attach.js', [name, 'if-missing'], { timeoutMs: 10000 })
  assert.deepEqual(await child.next(), {
    error: 'ERR_SHM_NOT_A_CHANNEL',
    message: `shared memory block "${name}" is not a channel this release can open: its header describes more than its block holds, or its size kept changing while it was opened`,
  })
})

test('mode sets the channel block\'s permission bits, also with if-missing', { skip: process.platform !== 'linux' && 'reads the mode from /dev/shm' }, (t) => {
  for (const create of [true, 'if-missing']) {
    const name = uniqueName('chan-mode')
    const channel = new Channel(name, { capacity: 8, create, mode: 0o640 })
    t.after(() => channel.close())
    assert.equal(fs.statSync(path.join('/dev/shm', name)).mode & 0o777, 0o640, `create: ${create}`)
  }
})

test('a send or receive whose lock another thread holds gives up at its timeout, blocking or async (in a process of its own)', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t)
  sender.send('before')
  const { block, words } = rawWords(t, name)
  // The channel's two locks (docs/channel-format.md), held by this thread while the child tries.
  assert.equal(block.lock(64), 'acquired')
  assert.equal(block.lock(192), 'acquired')
  const child = startChild('channel-hostile.js', [name, 'locks-held'], { timeoutMs: 10000 })
  const result = await child.next((m) => 'outcome' in m || 'error' in m)
  block.unlock(64)
  block.unlock(192)
  assert.deepEqual(result, { outcome: { send: false, receive: null, sendAsync: false, receiveAsync: null } })
  // They gave up waiting for a lock, before they ever counted themselves waiting for the ring.
  assert.deepEqual([Atomics.load(words, 81), Atomics.load(words, 97)], [0, 0], 'waiting counts untouched')
  assert.equal(receiver.receive(0), 'before', 'nothing was sent or taken')
  assert.equal(receiver.receive(0), undefined)
})

test('an attach waits for the creator to write the header (in a process of its own)', { skip: linuxOnly }, async (t) => {
  const name = uniqueName('chan-late')
  const block = new SharedMemory(name, { size: 512 + 64 })
  t.after(() => block.close())
  // All of the header but its first word, which the creator writes last.
  block.view.writeUInt32LE(1, 4)
  block.view.writeUInt32LE(64, 8)
  block.view.writeUInt32LE(48, 12)
  const child = startChild('channel-attach.js', [name], { timeoutMs: 10000 })
  // The child sleeps on that word (for a second at most); it comes now, and a notify.
  await whenSleeping(child.child.pid)
  const words = new Int32Array(block.view.buffer, block.view.byteOffset, 1)
  Atomics.store(words, 0, 0x434d4853)
  block.notify(0)
  assert.deepEqual(await child.next(), { capacity: 48 })
})

test('receiveInPlaceAsync, unlink(), and what sendAsync answers at once', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t)
  assert.equal(await sender.sendAsync(Buffer.from('in place')), true)
  const message = await receiver.receiveInPlaceAsync(0)
  assert.ok(message instanceof Channel.InPlaceMessage)
  assert.deepEqual([Buffer.from(message.bytes).toString(), message.isText], ['in place', false])
  message.release()
  assert.equal(await receiver.receiveInPlaceAsync(0), undefined)
  // A bad argument is a rejected Promise, not a throw.
  const refused = receiver.receiveInPlaceAsync('1')
  assert.ok(refused instanceof Promise)
  await assert.rejects(refused, { code: 'ERR_INVALID_ARG_TYPE' })

  receiver.unlink()
  assert.equal(SharedMemory.exists(name), false)
  assert.equal(sender.send('still here'), true)
  assert.equal(receiver.receive(0), 'still here')
})

/** The header's words of channel `name`, through a plain block closed when the test ends. */
function rawWords(t, name) {
  const block = new SharedMemory(name, { create: false })
  t.after(() => block.close())
  return { block, words: new Int32Array(block.view.buffer, block.view.byteOffset, 128) }
}

// A peer of another language may sleep on a sequence word with no time limit (docs/channel-format.md):
// the JS side must bump and notify it, not count on its own 100 ms slices.
test('a pad frame says its length in SIZE, as docs/channel-format.md has it for readers in other languages', { skip: supported !== true && supported }, (t) => {
  const { name, sender, receiver } = pair(t, 1024) // 1040 bytes of frames
  const { view } = rawWords(t, name).block
  sender.send(Buffer.alloc(500, 1)) // a frame of 528 bytes at 0
  assert.deepEqual(receiver.receive(0), Buffer.alloc(500, 1))
  sender.send(Buffer.alloc(500, 2)) // 512 bytes left before the end: a pad there, the frame at 0
  const pad = 512 + 528 // the header, then the first frame
  assert.deepEqual([view.readUInt32LE(pad), view.readUInt32LE(pad + 4)], [512 - 16, 3], 'SIZE and KIND of the pad')
  assert.deepEqual(receiver.receive(0), Buffer.alloc(500, 2))
})

test('a send that finds no room changes nothing, also where its frame would need a pad first', { skip: supported !== true && supported }, (t) => {
  const { name, sender, receiver } = pair(t, 1024) // 1040 bytes of frames
  const { words } = rawWords(t, name)
  sender.send(Buffer.alloc(500, 1)) // a frame of 528 bytes at 0, not taken
  // The next 528-byte frame fits only at 0, after a 512-byte pad: room for the pad, not for both.
  assert.equal(sender.send(Buffer.alloc(500, 2), 0), false)
  assert.equal(Atomics.load(words, 32), 528, 'WRITE did not move: no pad was written')
  assert.deepEqual(receiver.receive(0), Buffer.alloc(500, 1))
  assert.equal(sender.send(Buffer.alloc(500, 2), 0), true)
  assert.deepEqual(receiver.receive(0), Buffer.alloc(500, 2))
})

test('the largest message fits again once the last one is taken: room is reclaimed to the byte', { skip: supported !== true && supported }, (t) => {
  const { sender, receiver } = pair(t, 48) // 64 bytes of frames: one frame of 48 bytes fills them
  for (let i = 0; i < 3; i++) {
    assert.equal(sender.send(Buffer.alloc(48, i), 0), true, `send ${i}`)
    assert.equal(sender.send(Buffer.alloc(0), 0), false, 'full')
    assert.deepEqual(receiver.receive(0), Buffer.alloc(48, i))
  }
})

test('a send that pads the end of the ring leaves the messages before the pad to the receivers', { skip: supported !== true && supported }, (t) => {
  const { sender, receiver } = pair(t, 1024) // 1040 bytes of frames
  sender.send(Buffer.alloc(500, 1)) // a frame of 528 bytes at 0
  assert.deepEqual(receiver.receive(0), Buffer.alloc(500, 1))
  sender.send(Buffer.alloc(100, 2)) // 128 bytes at 528, not taken
  // 384 bytes left before the end: a pad there, then the frame at 0, in the room of the first.
  assert.equal(sender.send(Buffer.alloc(500, 3), 0), true)
  assert.deepEqual(receiver.receive(0), Buffer.alloc(100, 2))
  assert.deepEqual(receiver.receive(0), Buffer.alloc(500, 3))
  assert.equal(receiver.receive(0), undefined)
})

// A handle remembers where the published frames ended when it last looked, and trusts that while
// READ and the count of takes are as it left them. Here other handles take a whole lap (READ comes
// back to the same position) and the ring is empty: the old end must not be trusted.
test('a receiver whose last look is a lap old reads WRITE again: no message twice', { skip: supported !== true && supported }, (t) => {
  const { name, sender, receiver } = pair(t, 48) // 64 bytes of frames, positions 0 to 127
  const other = new Channel(name, { create: false })
  t.after(() => other.close())
  sender.send('m1') // frames of 32 bytes
  sender.send('m2')
  assert.equal(receiver.receive(0), 'm1') // READ 32; it saw WRITE at 64
  const seen = []
  for (let i = 3; i <= 5; i++) {
    seen.push(other.receive(0))
    sender.send(`m${i}`)
  }
  seen.push(other.receive(0)) // READ at 32 again, a lap on, and nothing published
  assert.deepEqual(seen, ['m2', 'm3', 'm4', 'm5'])
  assert.equal(receiver.receive(0), undefined, 'm2 is not received again')
  sender.send('m6')
  assert.equal(receiver.receive(0), 'm6')
})

test('a pad that a busy receiver must pass wakes the receivers asleep without a time limit', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t, 1024) // 1040 bytes of frames
  const { block, words } = rawWords(t, name)
  sender.send(Buffer.alloc(500, 1)) // a frame of 528 bytes at 0
  assert.deepEqual(receiver.receive(0), Buffer.alloc(500, 1))
  // A receiver at work (this thread holds the receive lock) and one asleep, counted waiting.
  assert.equal(block.lock(192), 'acquired')
  Atomics.add(words, 81, 1)
  const woken = block.waitAsync(320, Atomics.load(words, 80), 5000)
  // 1040 bytes fit only at 0, once the 512-byte pad before the end is in and taken: the pad
  // goes in, the message does not, and only the pad's wake can bring a receiver to pass it.
  assert.equal(sender.send(Buffer.alloc(1024, 2), 0), false)
  assert.equal(await woken, 'ok')
  Atomics.sub(words, 81, 1)
  block.unlock(192)
  assert.equal(receiver.receive(0), undefined)
  assert.equal(sender.send(Buffer.alloc(1024, 2), 0), true)
  assert.deepEqual(receiver.receive(0), Buffer.alloc(1024, 2))
})

test('end() bumps and notifies both sequence words, for peers asleep without a time limit', { skip: supported !== true && supported }, async (t) => {
  const { name, sender } = pair(t)
  const { block, words } = rawWords(t, name)
  const woken = [320, 384].map((offset) => block.waitAsync(offset, Atomics.load(words, offset >> 2), 5000))
  sender.end()
  assert.deepEqual(await Promise.all(woken), ['ok', 'ok'])
})

test('close() with an in-place message held wakes the senders counted waiting', { skip: supported !== true && supported }, async (t) => {
  const { name, sender, receiver } = pair(t)
  const { block, words } = rawWords(t, name)
  sender.send('held')
  const held = receiver.receiveInPlace(0)
  assert.equal(Buffer.from(held.bytes).toString(), 'held')
  // Counted waiting as a sender, as the format says a sender does before it sleeps.
  Atomics.add(words, 97, 1)
  const woken = block.waitAsync(384, Atomics.load(words, 96), 5000)
  receiver.close()
  assert.equal(await woken, 'ok')
})

test('util.inspect shows name, capacity and state', { skip: supported !== true && supported }, (t) => {
  const { name, sender } = pair(t, 77)
  const inspect = (value) => util.inspect(value, { breakLength: Infinity })
  assert.equal(inspect(sender), `Channel { name: '${name}', capacity: 77, closed: false, ended: false }`)
  sender.end()
  assert.equal(inspect(sender), `Channel { name: '${name}', capacity: 77, closed: false, ended: true }`)
  sender.close()
  assert.equal(inspect(sender), `Channel { name: '${name}', capacity: 77, closed: true }`)
})

test('a C peer (examples/c/channel_peer.c, C11 atomics) answers 2,000 messages byte for byte', { skip: noC, timeout: 120000 }, (t) => {
  // Names of this test's, removed whatever happens to the example (killed at its timeout, it
  // cannot remove its channels itself).
  const names = [uniqueName('c-requests'), uniqueName('c-replies')]
  t.after(() => names.forEach(removeBlock))
  const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', 'channel-c.js'), ...names], { encoding: 'utf8', timeout: 110000 })
  assert.equal(run.status, 0, run.stderr)
  assert.match(run.stdout, /^node: 2000 requests answered by C, each reply checked byte for byte$/m)
  assert.match(run.stderr, /channel_peer: answered 2000 messages/)
})
