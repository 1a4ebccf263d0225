'use strict'

// The channel on Windows: messages between processes both ways, exactly once
// and in each sender's order with several senders and receivers, end() waking
// a receiver in another process, and a peer killed while it holds the
// channel's send lock.

const test = require('node:test')
const assert = require('node:assert/strict')
const { SharedMemory, uniqueName, Child } = require('./helpers')

const { Channel } = SharedMemory

function channel(t, name, options) {
  const opened = new Channel(name, options)
  t.after(() => opened.close())
  return opened
}

test('strings and bytes go both ways between two processes', async (t) => {
  const name = uniqueName('chan')
  const here = channel(t, name, { capacity: 256 })
  const child = await Child.start(t)
  const there = await child.call('channelOpen', name, { create: false })
  here.send('to the child ☃')
  here.send(Buffer.from([1, 2, 3]))
  assert.equal(await child.call('channelReceive', there, 5000), 'to the child ☃')
  assert.deepEqual(await child.call('channelReceive', there, 5000), [1, 2, 3])
  assert.equal(await child.call('channelSend', there, 'to the parent', 5000), true)
  assert.equal(await child.call('channelSend', there, [9, 8], 5000), true)
  assert.equal(here.receive(5000), 'to the parent')
  assert.deepEqual(here.receive(5000), Buffer.from([9, 8]))
  assert.equal(here.receive(0), undefined)
})

test('2 sender and 2 receiver processes: each message once, in each sender\'s order', async (t) => {
  const name = uniqueName('chan-load')
  const main = channel(t, name, { capacity: 512 })
  const count = 1000
  const senders = await Promise.all([0, 1].map(() => Child.start(t)))
  const receivers = await Promise.all([0, 1].map(() => Child.start(t)))
  const receiving = receivers.map(async (child) => child.call('channelReceiveAll', await child.call('channelOpen', name, { create: false })))
  const sent = await Promise.all(senders.map(async (child, id) => child.call('channelSendMany', await child.call('channelOpen', name, { create: false }), id, count)))
  assert.deepEqual(sent, [count, count])
  main.end()
  const lists = await Promise.all(receiving)
  const seen = new Set()
  for (const list of lists) {
    const last = [-1, -1]
    for (const message of list) {
      assert.ok(!seen.has(message), `${message} received twice`)
      seen.add(message)
      const [id, i] = message.split(':').map(Number)
      assert.ok(i > last[id], `${message} after ${id}:${last[id]}`)
      last[id] = i
    }
  }
  assert.equal(seen.size, 2 * count)
})

test('end() wakes a receiver blocked in another process', async (t) => {
  const name = uniqueName('chan-end')
  const main = channel(t, name, { capacity: 64 })
  const child = await Child.start(t)
  const there = await child.call('channelOpen', name, { create: false })
  const receiving = child.call('channelReceive', there, 15000)
  await new Promise((resolve) => setTimeout(resolve, 300)) // asleep in receive() by then
  main.end()
  assert.equal(await receiving, null)
})

test('a process killed while it holds the send lock blocks no other sender', async (t) => {
  const name = uniqueName('chan-killed')
  const main = channel(t, name, { capacity: 64 })
  const child = await Child.start(t)
  const { handle } = await child.call('open', name, { create: false })
  assert.equal(await child.call('lock', handle, 64), 'acquired') // the send lock (docs/channel-format.md)
  assert.equal(main.send('blocked', 0), false)
  await child.kill()
  assert.equal(main.send('after the owner died', 5000), true)
  assert.equal(main.receive(0), 'after the owner died')
})
