'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName, runChild } = require('./helpers')

test('8 processes each doing 100,000 Atomics.add on one counter reach the exact total', async () => {
  const memory = new SharedMemory(uniqueName(), { size: 64 })
  const counter = new Int32Array(memory.view.buffer)
  const runs = Array.from({ length: 8 }, () => runChild('atomics.js', [memory.name, '100000'], { timeoutMs: 60000 }))
  const results = await Promise.all(runs)
  for (const { code } of results) assert.equal(code, 0)
  assert.equal(Atomics.load(counter, 0), 800000)
  memory.close()
})

test('a writer and a reader exchange 100,000 messages through wait/notify: none lost, none torn', async () => {
  const memory = new SharedMemory(uniqueName(), { size: 128 })
  const count = '100000'
  const [reader, writer] = await Promise.all([
    runChild('stream.js', [memory.name, 'reader', count], { timeoutMs: 120000 }),
    runChild('stream.js', [memory.name, 'writer', count], { timeoutMs: 120000 }),
  ])
  assert.equal(writer.code, 0)
  assert.equal(reader.code, 0)
  assert.deepEqual(reader.messages, [{ role: 'reader', count: 100000, lost: 0, torn: 0 }])
  const words = new Int32Array(memory.view.buffer)
  assert.deepEqual([words[0], words[1]], [100000, 100000])
  memory.close()
})
