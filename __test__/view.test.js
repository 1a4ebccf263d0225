'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const { SharedMemory, uniqueName, runChild, thrown, collectGarbage } = require('./helpers')

/** Whether this process has the block `name` mapped (Linux: /proc/self/maps). */
function isMapped(name) {
  return fs.readFileSync('/proc/self/maps', 'utf8').includes(`/dev/shm/${name}`)
}
const noProcMaps = process.platform !== 'linux' && '/proc/self/maps is Linux only'

test('view is a Buffer over the whole block, without copying', () => {
  const memory = new SharedMemory(uniqueName(), 32)
  const view = memory.view
  assert.ok(Buffer.isBuffer(view))
  assert.equal(view.length, 32)
  view.write('through the view')
  assert.equal(memory.data, 'through the view')
  memory.data = 'through write'
  assert.equal(view.toString('utf8', 0, 13), 'through write')
})

test('view is made once and cached; view.buffer is its one ArrayBuffer', () => {
  const memory = new SharedMemory(uniqueName(), 16)
  assert.equal(memory.view, memory.view)
  assert.equal(memory.view.buffer, memory.view.buffer)
  assert.equal(memory.view.buffer.byteLength, 16)
  assert.equal(memory.view.byteOffset, 0)
})

test('two objects on the same block see each other through their views', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 8)
  const client = new SharedMemory(name, 8, false, false)
  host.view[3] = 42
  assert.equal(client.view[3], 42)
})

test('Atomics on an Int32Array over view.buffer work across processes', async () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 64)
  const counters = new Int32Array(memory.view.buffer)
  Atomics.store(counters, 0, 1000)
  const { code, messages } = await runChild('atomics.js', [name, '5000'])
  assert.equal(code, 0)
  assert.equal(Atomics.load(counters, 0), 6000)
  assert.deepEqual(messages, [{ seen: 1000 }])
  assert.equal(memory.view.readInt32LE(0), 6000)
})

test('close() unmaps the block at once when no view was made', { skip: noProcMaps }, () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 4096)
  assert.ok(isMapped(name))
  memory.close()
  assert.equal(isMapped(name), false)
})

test('a view kept after its SharedMemory object was collected still works', async () => {
  const name = uniqueName()
  let view = (() => {
    const host = new SharedMemory(name, 16)
    host.data = 'still here'
    return host.view
  })()
  await collectGarbage()
  assert.equal(SharedMemory.exists(name), false, 'the collected host removed the name')
  assert.equal(view.toString('utf8', 0, 10), 'still here')
  view.write('and writable')
  assert.equal(view.toString('utf8', 0, 12), 'and writable')
  if (!noProcMaps) {
    assert.ok(isMapped(name), 'the view keeps the mapping')
    view = null
    await collectGarbage()
    assert.equal(isMapped(name), false, 'the mapping goes with the last view')
  }
})

test('a read-only block has no view: a write through it would kill the process', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 16)
  const reader = new SharedMemory(name, { create: false, readOnly: true })
  const error = thrown(() => reader.view)
  assert.equal(error.code, 'ERR_SHM_READ_ONLY')
  assert.equal(host.view.length, 16)
})

/** A new block of `size` bytes, or null (the test skipped, saying why) when the system has no room. */
function bigBlock(t, size) {
  try {
    return new SharedMemory(uniqueName(), { size })
  } catch (error) {
    if (error.code !== 'ERR_SHM_NO_SPACE') throw error
    t.skip(`no room for a ${size}-byte block here (${error.message})`)
    return null
  }
}

test('a block larger than a Buffer may be has no view, and reads and writes still work', async (t) => {
  const { constants } = require('node:buffer')
  const size = 2 ** 32 + 4096
  const memory = bigBlock(t, size)
  if (memory === null) return
  try {
    if (size > constants.MAX_LENGTH) {
      assert.throws(() => memory.view, {
        name: 'RangeError',
        code: 'ERR_BUFFER_TOO_LARGE',
        message: `shared memory block "${memory.name}" of ${size} bytes is larger than a Buffer may be here (${constants.MAX_LENGTH} bytes)`,
      })
    } else {
      assert.equal(memory.view.length, size)
    }
    if (size > constants.MAX_LENGTH) {
      // A copy as large as the block is no Buffer either; a smaller one still works.
      const tooLarge = (length, offset = 0) => ({
        name: 'RangeError',
        code: 'ERR_BUFFER_TOO_LARGE',
        message: `a copy of ${length} bytes at offset ${offset} of shared memory block "${memory.name}" is larger than a Buffer may be here (${constants.MAX_LENGTH} bytes)`,
      })
      assert.throws(() => memory.buffer, tooLarge(size))
      assert.throws(() => memory.readBuffer(), tooLarge(size))
      assert.throws(() => memory.readBuffer(1), tooLarge(size - 1, 1))
      assert.equal(memory.readBuffer(size - 8).length, 8)
    }
    memory.write('at the far end', size - 20)
    assert.equal(memory.read(size - 20), 'at the far end')
    memory.data = 'at the start'
    assert.equal(memory.data, 'at the start')
    // Locks work without a view too (the addon takes them), also past 4 GiB.
    if (process.platform === 'linux' || process.platform === 'win32') {
      for (const offset of [64, size - 8]) {
        memory.write(Buffer.alloc(8), offset) // a free lock (the tail holds text written above)
        assert.equal(memory.lock(offset), 'acquired')
        assert.equal(memory.tryLock(offset), 'busy')
        memory.unlock(offset)
        assert.equal(memory.tryLock(offset), 'acquired')
        memory.unlock(offset)
        assert.equal(await memory.lockAsync(offset), 'acquired')
        memory.unlock(offset)
      }
      assert.throws(() => memory.lock(size), { code: 'ERR_OUT_OF_RANGE' })
    }
    // A shorter string over a longer one ends with a NUL; one that fills the rest has none; one
    // too large is refused and writes nothing.
    memory.write('a longer text', size - 20)
    memory.write('short', size - 20)
    assert.equal(memory.read(size - 20), 'short')
    memory.write('x'.repeat(20), size - 20)
    assert.equal(memory.read(size - 20), 'x'.repeat(20))
    assert.throws(() => memory.write('y'.repeat(21), size - 20), {
      code: 'ERR_SHM_TOO_LARGE',
      message: `string of 21 bytes does not fit in shared memory block "${memory.name}" (20 bytes available)`,
    })
    assert.equal(memory.read(size - 20), 'x'.repeat(20))
    memory.write('at the far end', size - 20)
    const target = Buffer.alloc(6)
    assert.equal(memory.readInto(target, size - 20), 6)
    assert.equal(target.toString(), 'at the')
    // Past 2 GiB and 4 GiB, where 32-bit offsets would wrap.
    for (const offset of [2 ** 31 + 8, 2 ** 32 + 8]) {
      memory.write(`text at ${offset}`, offset)
      assert.equal(memory.read(offset), `text at ${offset}`)
      assert.deepEqual(memory.readBuffer(offset, 4), Buffer.from('text'))
    }
    // A target that lies about its length gets its true length's worth.
    class Liar extends Uint8Array {
      get length() {
        return 1e6
      }
    }
    const liar = new Liar(4)
    assert.equal(memory.readInto(liar, 2 ** 31 + 8), 4)
    assert.deepEqual([...liar], [...Buffer.from('text')])
  } finally {
    memory.close()
  }
})

test('a block between 2 GiB and 4 GiB writes and reads text through its view, past 2 GiB and where 2 GiB or more follow', (t) => {
  const size = 2 ** 31 + 4096
  const memory = bigBlock(t, size)
  if (memory === null) return
  try {
    assert.equal(memory.view.length, size)
    memory.write('beyond 2 GiB', 2 ** 31 + 100)
    assert.equal(memory.read(2 ** 31 + 100), 'beyond 2 GiB')
    assert.equal(memory.read(2 ** 31 + 100, 6), 'beyond')
    // With 2 GiB or more of room after it: Node's Buffer write() given a length that large
    // writes nothing, so the library must not pass the room as the length.
    memory.write('at the start', 0)
    assert.equal(memory.read(0), 'at the start')
    memory.data = 'through data'
    assert.equal(memory.data, 'through data')
    memory.write('a little later', 4000)
    assert.deepEqual(memory.readBuffer(4000, 14), Buffer.from('a little later'))
  } finally {
    memory.close()
  }
})

test('a block of exactly the largest Buffer size has a view', (t) => {
  const { constants } = require('node:buffer')
  const memory = bigBlock(t, constants.MAX_LENGTH)
  if (memory === null) return
  try {
    assert.equal(memory.view.length, constants.MAX_LENGTH)
    memory.view[constants.MAX_LENGTH - 1] = 7
    assert.deepEqual(memory.readBuffer(constants.MAX_LENGTH - 1), Buffer.from([7]))
  } finally {
    memory.close()
  }
})
