'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName, blockExists, runChild, collectGarbage } = require('./helpers')

test('another process attaches to a block created here and exchanges data', async () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 64)
  host.data = 'hello from the parent'
  const { code, messages } = await runChild('client.js', [name, '64'], {
    onMessage: (message, child) => {
      if ('data' in message) child.send({ write: 'reply from the child' })
    },
  })
  assert.equal(code, 0)
  assert.deepEqual(messages[0], { data: 'hello from the parent', host: false, size: 64 })
  assert.equal(host.data, 'reply from the child')
})

test('binary data crosses processes byte for byte', async () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 256)
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))
  const { code } = await runChild('client.js', [name, '256'], {
    onMessage: (message, child) => {
      if ('data' in message) child.send({ buffer: bytes.toString('base64') })
    },
  })
  assert.equal(code, 0)
  assert.deepEqual(host.buffer, bytes)
})

test('a block created by another process is attached here', async () => {
  const name = uniqueName()
  let seenHere
  const { code, messages } = await runChild('host.js', [name, '128'], {
    onMessage: (message, child) => {
      if (!message.ready) return
      const client = new SharedMemory(name, 128, false, false)
      seenHere = client.data
      client.data = 'hello from the parent client'
      child.send('done')
    },
  })
  assert.equal(code, 0)
  assert.equal(seenHere, 'hello from the child host')
  assert.deepEqual(messages[1], { data: 'hello from the parent client' })
})

test('the block is removed when the host process exits', async () => {
  const name = uniqueName()
  const { code, messages } = await runChild('create-and-exit.js', [name])
  assert.equal(code, 0)
  assert.ok(messages[0].created.endsWith(name))
  assert.equal(blockExists(name), false)
})

test('the block is removed when the host object is garbage-collected', async () => {
  const name = uniqueName()
  ;(() => {
    const host = new SharedMemory(name, 64)
    host.data = 'short-lived'
  })()
  assert.equal(blockExists(name), true)
  await collectGarbage()
  assert.equal(blockExists(name), false)
})

test('a garbage-collected client leaves the block to its host', async () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 64)
  ;(() => {
    const client = new SharedMemory(name, 64, false, false)
    client.data = 'written by a client'
  })()
  await collectGarbage()
  assert.equal(blockExists(name), true)
  assert.equal(host.data, 'written by a client')
})
