'use strict'

// Behaviours that bugs planted by a mutation audit of 2.0.0 broke without any
// test noticing: each test here fails when its bug is put back.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const util = require('node:util')
const { getEventListeners } = require('node:events')

const { SharedMemory, uniqueName, whenWaitersSleep } = require('./helpers')

test('waitAsync takes its abort listener off the signal once it settles, however it settles', async () => {
  const memory = new SharedMemory(uniqueName('listener'), { size: 64 })
  const controller = new AbortController()
  const { signal } = controller
  assert.equal(await memory.waitAsync(0, 1, 1000, signal), 'not-equal')
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'an immediate answer adds none')
  assert.equal(await memory.waitAsync(0, 0, 20, signal), 'timed-out')
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'after a timeout')
  const woken = memory.waitAsync(0, 0, 10000, signal)
  await whenWaitersSleep(memory, 1)
  assert.equal(getEventListeners(signal, 'abort').length, 1, 'while it waits')
  memory.notify(0)
  assert.equal(await woken, 'ok')
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'after a notify')
  memory.close()
})

test('waitAsync answers at once, with a settled promise and no thread, when it need not wait', async () => {
  const memory = new SharedMemory(uniqueName('immediate'), { size: 64 })
  memory.view.writeInt32LE(7, 4)
  const differs = memory.waitAsync(4, 6, 10000)
  const timedOut = memory.waitAsync(0, 0, 0)
  // Settled before this line runs: util.inspect shows a pending promise as <pending>.
  assert.match(util.inspect(differs), /^Promise \{\s+'not-equal'/)
  assert.match(util.inspect(timedOut), /^Promise \{\s+'timed-out'/)
  assert.deepEqual(await Promise.all([differs, timedOut]), ['not-equal', 'timed-out'])
  memory.close()
})

test('notify(offset, 0) wakes no one; notify(offset, 1) wakes one', async () => {
  const memory = new SharedMemory(uniqueName('notify-zero'), { size: 64 })
  let settled = 0
  const waits = [memory.waitAsync(0, 0, 10000), memory.waitAsync(0, 0, 10000)].map((wait) => wait.then((result) => (settled++, result)))
  await whenWaitersSleep(memory, 2)
  assert.equal(memory.notify(0, 0), 0)
  assert.equal(memory.notify(0, 1), 1)
  assert.equal(await Promise.race(waits), 'ok')
  // One waiter settled; the other still sleeps (a notify(0, 0) that woke one would have left none).
  assert.equal(settled, 1)
  // (Polled: a waiter leaves the futex for an instant between its wait slices.)
  await whenWaitersSleep(memory, 1, { exactly: true, timeoutMs: 2000 })
  assert.equal(memory.notify(0), 1)
  assert.deepEqual(await Promise.all(waits), ['ok', 'ok'])
  memory.close()
})

test('a read-only attach is mapped read-only', { skip: process.platform !== 'linux' && 'reads /proc/self/maps' }, () => {
  const name = uniqueName('ro-map')
  const host = new SharedMemory(name, { size: 4096 })
  const reader = new SharedMemory(name, { create: false, readOnly: true })
  assert.equal(reader.read(), '') // maps it
  const lines = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(`/dev/shm/${name}`))
  const permissions = lines.map((line) => line.split(' ')[1]).sort()
  assert.deepEqual(permissions, ['r--s', 'rw-s'], lines.join('\n'))
  reader.close()
  host.close()
})

test('an out-of-range readInto reports the block and the offset, not a Buffer error', () => {
  const name = uniqueName('readinto-range')
  const memory = new SharedMemory(name, { size: 16 })
  assert.throws(() => memory.readInto(Buffer.alloc(4), 17), {
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
    message: `offset 17 is outside shared memory block "${name}" of 16 bytes`,
  })
  assert.equal(memory.readInto(Buffer.alloc(4), 16), 0, 'at the end: nothing to copy')
  memory.close()
})

// Found by the mutation run of 2026-12-01: checks the addon repeats after lib/'s (memory safety
// depends on them), a name cut for its message at a character boundary, and unlink's errors.

test('the addon checks a lock offset and a copy span again, whatever lib/ let through', () => {
  const { NativeBlock } = require('../binding.js')
  const name = uniqueName('native')
  const block = new NativeBlock(name, { size: 64 })
  try {
    for (const offset of [3, 64, 60]) {
      const error = (() => {
        try {
          block.tryLock(offset)
        } catch (e) {
          return e
        }
      })()
      assert.ok(error instanceof RangeError, `tryLock(${offset})`)
      assert.equal(error.code, 'ERR_OUT_OF_RANGE')
    }
    for (const [offset, length] of [[-1, 1], [1.5, 1], [0, 65], [64, 1]]) {
      assert.throws(() => block.textLength(offset, length), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }, `textLength(${offset}, ${length})`)
    }
    assert.equal(block.textLength(0, 64), 0)
  } finally {
    block.close()
  }
})

test('a long name is cut at a character boundary in messages', () => {
  const name = `${'a'.repeat(79)}é${'b'.repeat(300)}` // byte 80 falls inside the é
  assert.throws(() => new SharedMemory(name, 64), {
    code: 'ERR_SHM_INVALID_NAME',
    message: `invalid shared memory block name "${'a'.repeat(79)}… (381 bytes)": a name may have at most 254 bytes on this platform`,
  })
})

const asRoot = process.platform === 'linux' && process.getuid?.() === 0
test("unlink of another user's block is ERR_SHM_ACCESS, not a quiet false", { skip: !asRoot && 'needs root, to unlink as another user (nobody)' }, () => {
  const name = uniqueName('not-yours')
  const block = new SharedMemory(name, { size: 64 })
  try {
    const program = `
      const SharedMemory = require(${JSON.stringify(require.resolve('..'))})
      process.setgid(65534)
      process.setuid(65534)
      try { console.log(JSON.stringify({ unlinked: SharedMemory.unlink(${JSON.stringify(name)}) })) }
      catch (error) { console.log(JSON.stringify({ code: error.code })) }`
    const run = require('node:child_process').spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 20000 })
    assert.deepEqual(JSON.parse(run.stdout), { code: 'ERR_SHM_ACCESS' }, run.stderr)
    assert.equal(SharedMemory.exists(name), true)
  } finally {
    block.close()
  }
})
