'use strict'

// close() releases the block at once (its pages, its mapping and a host's
// name), in synchronous code too, and stays safe for work still in flight
// over a view: such work runs to its end over private memory.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const { SharedMemory, uniqueName, runChild } = require('./helpers')

const linuxOnly = process.platform !== 'linux' && 'reads /proc/self, which is Linux only'

/** Kibibytes of shared memory this process has resident (Linux). */
function rssShmem() {
  return Number(fs.readFileSync('/proc/self/status', 'utf8').match(/^RssShmem:\s+(\d+) kB/m)[1])
}

/** Whether /proc/self/maps lists the block `name`. */
function isMapped(name) {
  return fs.readFileSync('/proc/self/maps', 'utf8').includes(`/dev/shm/${name}`)
}

test('close() gives the pages, the mapping and the name back before it returns, while a view is still held', { skip: linuxOnly }, () => {
  const name = uniqueName('release')
  const memory = new SharedMemory(name, { size: 64 * 1024 * 1024 })
  const view = memory.view
  const before = rssShmem()
  view.fill(1)
  assert.ok(rssShmem() >= before + 60 * 1024, 'the filled block is resident')
  assert.ok(isMapped(name))
  memory.close()
  assert.ok(rssShmem() <= before + 1024, `RssShmem is ${rssShmem()} kB after close(), ${before} kB before the fill`)
  assert.equal(isMapped(name), false, '/proc/self/maps no longer lists the block')
  assert.equal(SharedMemory.exists(name), false, 'the host removed the name')
  assert.equal(view.length, 64 * 1024 * 1024, 'the view is still referenced here')
})

test('a view kept after close() keeps its length over private zeros, and its writes reach nothing shared', () => {
  const name = uniqueName('old-view')
  const memory = new SharedMemory(name, { size: 64 })
  const other = new SharedMemory(name, { create: false })
  const view = memory.view
  const ints = new Int32Array(view.buffer)
  const slice = view.subarray(8, 16)
  view.write('shared')
  memory.close()
  assert.equal(view.length, 64)
  assert.equal(view.buffer.byteLength, 64)
  assert.equal(ints.length, 16)
  assert.equal(slice.length, 8)
  assert.deepEqual([...view], new Array(64).fill(0), 'the old view shows zeros, not the block')
  view.write('private')
  assert.equal(Atomics.add(ints, 4, 5), 0)
  assert.equal(Atomics.load(ints, 4), 5)
  assert.equal(other.read(0, 6), 'shared', 'writes through the old view did not reach the block')
  assert.equal(other.view.readInt32LE(16), 0)
  other.close()
})

test('every member that touches memory throws ERR_SHM_CLOSED after close(); the descriptive ones keep answering', () => {
  const name = uniqueName('closed')
  const memory = new SharedMemory(name, { size: 32 })
  memory.view.write('before')
  memory.close()
  memory.close() // idempotent
  const members = {
    view: () => memory.view,
    data: () => memory.data,
    'data =': () => (memory.data = 'x'),
    buffer: () => memory.buffer,
    'buffer =': () => (memory.buffer = Buffer.alloc(1)),
    write: () => memory.write('x'),
    read: () => memory.read(),
    readBuffer: () => memory.readBuffer(),
    readInto: () => memory.readInto(Buffer.alloc(4)),
    wait: () => memory.wait(0, 0, 0),
    notify: () => memory.notify(0),
    unlink: () => memory.unlink(),
  }
  for (const [member, call] of Object.entries(members)) {
    assert.throws(call, { name: 'Error', code: 'ERR_SHM_CLOSED', message: `shared memory block "${name}" is closed` }, member)
  }
  assert.deepEqual(
    { name: memory.name, size: memory.size, host: memory.host, global: memory.global, closed: memory.closed },
    { name, size: 32, host: true, global: false, closed: true },
  )
})

test('write() and the other members make no mapping that outlives close()', { skip: linuxOnly }, () => {
  const name = uniqueName('no-hidden-view')
  const memory = new SharedMemory(name, { size: 4096 })
  memory.write('a')
  memory.write(Buffer.from('b'), 1)
  assert.equal(memory.read(0, 2), 'ab')
  assert.equal(memory.readBuffer(0, 2).toString(), 'ab')
  memory.close()
  assert.equal(isMapped(name), false)
})

test('100,000 create + view + close rounds in one synchronous loop hold no more descriptors, mappings or names', { skip: linuxOnly, timeout: 120000 }, async () => {
  const prefix = `t-loop-${process.pid}-`
  const { code, signal, messages } = await runChild('close-loop.js', [prefix, '100000'], { timeoutMs: 110000 })
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, JSON.stringify(messages))
  const [{ before, after }] = messages
  assert.deepEqual(after, before)
  assert.equal(after.shmMappings, 0)
  assert.equal(after.blocks, 0)
})

for (const scenario of ['gzip', 'deflateStream', 'randomFill', 'pbkdf2', 'fsWrite', 'fsRead', 'streamWrite']) {
  test(`close() while ${scenario} works on the view in the background: no crash, and the work runs to its end`, async () => {
    const name = uniqueName(`inflight-${scenario}`)
    const { code, signal, messages } = await runChild('close-in-flight.js', [name, scenario])
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, JSON.stringify(messages))
    const [report] = messages
    const SIZE = 8 * 1024 * 1024
    const expected = {
      gzip: { inflated: SIZE },
      deflateStream: { inflated: SIZE },
      randomFill: { filled: SIZE },
      pbkdf2: { key: 64 },
      fsWrite: { written: SIZE, size: SIZE },
      fsRead: { read: SIZE },
      streamWrite: { size: SIZE },
    }[scenario]
    assert.deepEqual(report, { scenario, result: expected, viewLength: SIZE })
    assert.equal(SharedMemory.exists(name), false)
  })
}
