'use strict'

// The lock on Windows: mutual exclusion between processes, and owner death
// (a killed process, a worker that ends) told through the abandonment of the
// owner's named mutex.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Worker } = require('node:worker_threads')
const { SharedMemory, uniqueName, open, thrown, Child } = require('./helpers')

test('a lock excludes other processes, and only its owner unlocks it', async (t) => {
  const name = uniqueName('lock')
  const memory = open(t, name, { size: 64 })
  const child = await Child.start(t)
  const { handle } = await child.call('open', name, { create: false })
  assert.equal(await child.call('lock', handle, 0), 'acquired')
  assert.equal(memory.tryLock(0), 'busy')
  assert.equal(memory.lock(0, 200), 'timed-out')
  assert.equal(thrown(() => memory.unlock(0)).code, 'ERR_SHM_NOT_OWNER')
  await child.call('unlock', handle, 0)
  assert.equal(memory.lock(0, 5000), 'acquired', 'a normal unlock')
  assert.equal(thrown(() => memory.lock(0)).code, 'ERR_SHM_DEADLOCK')
  memory.unlock(0)
})

test('3 processes × 2,000 lock / read-modify-write / unlock end exact', async (t) => {
  const name = uniqueName('count')
  const memory = open(t, name, { size: 64 })
  const children = await Promise.all([0, 1, 2].map(() => Child.start(t)))
  const handles = await Promise.all(children.map((c) => c.call('open', name, { create: false })))
  const results = await Promise.all(children.map((c, i) => c.call('countUnderLock', handles[i].handle, 0, 8, 2000)))
  for (const result of results) assert.deepEqual(result, { acquired: 2000 })
  assert.equal(memory.view.readUInt32LE(8), 6000)
})

test('a holder process that is killed hands over owner-died', async (t) => {
  const name = uniqueName('killed')
  const memory = open(t, name, { size: 64 })
  const child = await Child.start(t)
  const { handle } = await child.call('open', name, { create: false })
  assert.equal(await child.call('lock', handle, 8), 'acquired')
  const waiting = memory.lockAsync(8, 10000)
  await child.kill()
  assert.equal(await waiting, 'owner-died')
  memory.unlock(8)
  assert.equal(memory.tryLock(8), 'acquired')
  memory.unlock(8)
})

test('a worker that ends holding the lock hands over owner-died', async (t) => {
  const name = uniqueName('worker')
  const memory = open(t, name, { size: 64 })
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const SharedMemory = require(process.env.SHM_WINDOWS_MODULE)
     const memory = new SharedMemory(workerData.name, { create: false })
     parentPort.postMessage(memory.lock(0))`,
    { eval: true, workerData: { name } },
  )
  assert.equal(await new Promise((resolve) => worker.once('message', resolve)), 'acquired')
  await new Promise((resolve) => worker.once('exit', resolve))
  assert.equal(memory.lock(0, 5000), 'owner-died')
  memory.unlock(0)
})
