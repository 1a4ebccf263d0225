'use strict'

// lock, tryLock, lockAsync and unlock: mutual exclusion across processes and
// threads, owner death told apart from slow, stopped and namespaced owners,
// aborts and timeouts. Holders and waiters are child processes
// (fixtures/locker.js) or workers.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { Worker } = require('node:worker_threads')

const { SharedMemory, uniqueName, startChild, thrown, whenSleeping, whenAnyThreadSleepsOn, whenWaitersSleep } = require('./helpers')

const supported = ['linux', 'win32', 'darwin'].includes(process.platform) || 'locks need owner-death detection, which this release has on Linux, Windows and macOS only'
const linuxOnly = (supported !== true && supported) || (process.platform !== 'linux' && 'signals and /dev/shm as on Linux')
const isRoot = process.getuid?.() === 0
const unshareMissing =
  (!isRoot || spawnSync('unshare', ['--pid', '--fork', '--kill-child', 'true']).status !== 0) && 'needs root and unshare --pid --kill-child'

function block(size = 64) {
  const name = uniqueName('lock')
  const memory = new SharedMemory(name, { size })
  return { name, memory }
}

/** The lock word at `offset`, as the other processes see it. */
const word = (memory, offset = 0) => memory.view.readBigUInt64LE(offset)

/** Starts a child that takes the lock at `offset` and holds it; resolves once it holds it. */
async function holder(name, offset = 0) {
  const child = startChild('locker.js', [name, 'hold', String(offset)])
  const { held } = await child.next((m) => 'held' in m)
  return { ...child, held }
}

test('LOCK_SIZE, and a lock in a fresh block is free', { skip: supported !== true && supported }, () => {
  assert.equal(SharedMemory.LOCK_SIZE, 8)
  const { memory } = block()
  assert.equal(memory.tryLock(16), 'acquired')
  assert.notEqual(word(memory, 16), 0n, 'the word holds the owner')
  memory.unlock(16)
  assert.equal(word(memory, 16), 0n, 'a free lock is all zeros again')
  assert.equal(memory.lock(16), 'acquired')
  memory.unlock(16)
  memory.close()
})

test('a lock is not recursive: tryLock is busy and lock throws ERR_SHM_DEADLOCK on the owning thread', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  assert.equal(memory.lock(0), 'acquired')
  const held = word(memory)
  assert.equal(memory.tryLock(0), 'busy')
  const error = thrown(() => memory.lock(0, 1000))
  assert.equal(error.code, 'ERR_SHM_DEADLOCK')
  assert.equal(error.message, `this thread already holds the lock at offset 0 of shared memory block "${name}": lock() would wait forever (locks are not recursive)`)
  assert.equal(word(memory), held, 'the failed calls changed nothing')
  // Two async tasks of one thread exclude each other: lockAsync waits for the unlock.
  let settled = false
  const second = memory.lockAsync(0).then((result) => ((settled = true), result))
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(settled, false)
  memory.unlock(0)
  assert.equal(await second, 'acquired')
  memory.unlock(0)
  memory.close()
})

test('unlock by a thread that does not hold the lock throws ERR_SHM_NOT_OWNER and changes nothing', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  let error = thrown(() => memory.unlock(8))
  assert.equal(error.code, 'ERR_SHM_NOT_OWNER')
  assert.equal(error.message, `cannot unlock the lock at offset 8 of shared memory block "${name}": this thread does not hold it`)
  const other = await holder(name, 8)
  assert.equal(other.held, 'acquired')
  const held = word(memory, 8)
  error = thrown(() => memory.unlock(8))
  assert.equal(error.code, 'ERR_SHM_NOT_OWNER')
  assert.equal(word(memory, 8), held)
  other.child.send('unlock')
  await other.next((m) => m.unlocked)
  assert.equal(memory.tryLock(8), 'acquired', 'the owner unlocked it normally')
  memory.unlock(8)
  other.child.kill()
  await other.exited
  memory.close()
})

test('bad offsets, timeouts and blocks are refused with the right errors', { skip: supported !== true && supported }, () => {
  const { name, memory } = block(64)
  for (const offset of [4, 60, 64, 1e6]) {
    const error = thrown(() => memory.lock(offset))
    assert.equal(error.name, 'RangeError')
    assert.equal(error.code, 'ERR_OUT_OF_RANGE')
    assert.equal(error.message, `offset must be a multiple of SharedMemory.LOCK_SIZE (8) with the lock inside shared memory block "${name}" of 64 bytes, got ${offset}`)
    assert.equal(thrown(() => memory.tryLock(offset)).code, 'ERR_OUT_OF_RANGE')
    assert.equal(thrown(() => memory.unlock(offset)).code, 'ERR_OUT_OF_RANGE')
  }
  assert.equal(thrown(() => memory.lock(-8)).code, 'ERR_OUT_OF_RANGE')
  let error = thrown(() => memory.lock('0'))
  assert.equal(error.name, 'TypeError')
  assert.equal(error.message, 'offset must be a number, got a string')
  error = thrown(() => memory.lock(0, '10'))
  assert.equal(error.name, 'TypeError')
  assert.equal(error.message, 'timeoutMs must be a number, got a string')
  assert.equal(word(memory), 0n, 'nothing was taken')

  const reader = new SharedMemory(name, { create: false, readOnly: true })
  for (const call of [() => reader.lock(0), () => reader.tryLock(0), () => reader.unlock(0)]) {
    assert.equal(thrown(call).code, 'ERR_SHM_READ_ONLY')
  }
  reader.close()
  memory.close()
  assert.equal(thrown(() => memory.lock(0)).code, 'ERR_SHM_CLOSED')
  assert.equal(thrown(() => memory.unlock(0)).code, 'ERR_SHM_CLOSED')
  return assert.rejects(memory.lockAsync(0), { code: 'ERR_SHM_CLOSED' })
})

test('4 processes × 10,000 lock / non-atomic read-modify-write / unlock end exact', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const rounds = 10000
  const children = Array.from({ length: 4 }, () => startChild('locker.js', [name, 'count', String(rounds)], { timeoutMs: 120000 }))
  const reports = await Promise.all(children.map((c) => c.next((m) => m.done)))
  for (const { results } of reports) assert.deepEqual(results, { acquired: rounds })
  assert.equal(memory.view.readUInt32LE(8), 4 * rounds)
  assert.equal(word(memory), 0n, 'free at the end')
  memory.close()
})

test('a holder killed with SIGKILL: a blocked waiter gets owner-died at once, and owns a normal lock', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  assert.equal(owner.held, 'acquired')
  const waiter = startChild('locker.js', [name, 'wait', '0'])
  await waiter.next((m) => m.ready)
  await whenSleeping(waiter.child.pid)
  assert.equal(memory.tryLock(0), 'busy', 'alive while it runs')
  const killedAt = Date.now()
  owner.child.kill('SIGKILL')
  const { result, at } = await waiter.next((m) => 'result' in m)
  assert.equal(result, 'owner-died')
  // The waiter looks every 50 ms (npm run bench measures it); a loaded machine gets slack here.
  assert.ok(at - killedAt < 1000, `learned it after ${at - killedAt} ms`)
  await waiter.exited
  // The waiter exited holding the lock it took over: the next locker is told again.
  assert.equal(memory.tryLock(0), 'owner-died')
  memory.unlock(0)
  assert.equal(memory.lock(0), 'acquired', 'after a normal unlock, a normal lock')
  memory.unlock(0)
  memory.close()
})

for (const how of ['exit', 'throw']) {
  test(`a holder that ends with ${how === 'exit' ? 'process.exit()' : 'an uncaught exception'} hands over owner-died`, { skip: supported !== true && supported }, async () => {
    const { name, memory } = block()
    const owner = await holder(name)
    owner.child.send(how)
    await owner.exited
    assert.equal(memory.lock(0, 5000), 'owner-died')
    memory.unlock(0)
    memory.close()
  })
}

test('a holder stopped with SIGSTOP is alive', { skip: linuxOnly }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  owner.child.kill('SIGSTOP')
  try {
    assert.equal(memory.tryLock(0), 'busy')
    assert.equal(memory.lock(0, 300), 'timed-out')
    assert.equal(await memory.lockAsync(0, 300), 'timed-out')
  } finally {
    owner.child.kill('SIGCONT')
  }
  owner.child.send('unlock')
  await owner.next((m) => m.unlocked)
  assert.equal(memory.lock(0, 5000), 'acquired', 'a normal unlock, not a death')
  memory.unlock(0)
  owner.child.kill('SIGKILL')
  await owner.exited
  memory.close()
})

test('a holder in another PID namespace is alive, and its death is seen', { skip: (supported !== true && supported) || unshareMissing }, async () => {
  const { name, memory } = block()
  const fixture = path.join(__dirname, 'fixtures', 'locker.js')
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', process.execPath, fixture, name, 'hold', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const first = await new Promise((resolve, reject) => {
      child.stdout.once('data', (data) => resolve(JSON.parse(String(data).split('\n')[0])))
      child.once('exit', () => reject(new Error('the namespaced holder exited')))
    })
    // PID 1 in its namespace: a PID-based check would look up the wrong process here.
    assert.deepEqual(first, { held: 'acquired', pid: 1 })
    assert.equal(memory.tryLock(0), 'busy')
    assert.equal(memory.lock(0, 300), 'timed-out')
  } finally {
    child.kill('SIGKILL') // unshare's child gets SIGKILL with it (--kill-child)
  }
  assert.equal(memory.lock(0, 5000), 'owner-died')
  memory.unlock(0)
  memory.close()
})

for (const how of ['returns', 'calls process.exit()', 'is terminated']) {
  test(`a worker that ${how} holding the lock hands over owner-died`, { skip: supported !== true && supported }, async () => {
    const { name, memory } = block()
    const source = `
      const { parentPort, workerData } = require('node:worker_threads')
      const SharedMemory = require(${JSON.stringify(path.join(__dirname, '..'))})
      const memory = new SharedMemory(workerData.name, { create: false })
      parentPort.postMessage(memory.lock(0))
      if (workerData.how === 'calls process.exit()') process.exit(0)
      if (workerData.how === 'is terminated') setInterval(() => {}, 1000)`
    const worker = new Worker(source, { eval: true, workerData: { name, how } })
    assert.equal(await new Promise((resolve) => worker.once('message', resolve)), 'acquired')
    if (how === 'is terminated') await worker.terminate()
    await new Promise((resolve) => (worker.threadId === -1 ? resolve() : worker.once('exit', resolve)))
    assert.equal(memory.lock(0, 5000), 'owner-died')
    memory.unlock(0)
    memory.close()
  })
}

test('lockAsync: an abort rejects with an AbortError and leaves the lock as it was', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  const held = word(memory)
  const early = new AbortController()
  early.abort()
  await assert.rejects(memory.lockAsync(0, Infinity, early.signal), { name: 'AbortError' })
  const controller = new AbortController()
  const pending = memory.lockAsync(0, Infinity, controller.signal)
  await new Promise((resolve) => setTimeout(resolve, 100))
  controller.abort()
  await assert.rejects(pending, { name: 'AbortError' })
  assert.equal(word(memory) & ~(1n << 62n), held, 'still the holder’s')
  // A timeout leaves it too.
  assert.equal(await memory.lockAsync(0, 100), 'timed-out')
  owner.child.send('unlock')
  await owner.next((m) => m.unlocked)
  // Nothing was leaked to the aborted calls: the lock is free.
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(memory.tryLock(0), 'acquired')
  memory.unlock(0)
  owner.child.kill('SIGKILL')
  await owner.exited
  memory.close()
})

test('lockAsync waits with the event loop free and gets the lock when the holder unlocks', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  const pending = memory.lockAsync(0, 10000)
  let ticks = 0
  const ticker = setInterval(() => ticks++, 5)
  await new Promise((resolve) => setTimeout(resolve, 100))
  clearInterval(ticker)
  assert.ok(ticks > 3, 'the event loop ran meanwhile')
  owner.child.send('unlock')
  assert.equal(await pending, 'acquired')
  memory.unlock(0) // the JS thread owns it, not the thread that waited
  owner.child.kill('SIGKILL')
  await owner.exited
  memory.close()
})

test('a read lock planted on a dead owner’s mark by a read-only process does not keep it alive', { skip: linuxOnly }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  const token = word(memory) & ((1n << 62n) - 1n)
  owner.child.kill('SIGKILL')
  await owner.exited
  // A process that may only read the block places a read lock on the byte that marks the dead
  // owner alive, and holds it.
  const planter = spawn('python3', ['-c', `
import fcntl, os, sys, time
fd = os.open('/dev/shm/${name}', os.O_RDONLY)
fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, (1 << 62) + ${token}, 0)
print('planted', flush=True)
time.sleep(30)`], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise((resolve, reject) => {
      planter.stdout.once('data', resolve)
      planter.once('exit', (code) => reject(new Error(`the planter exited with ${code}`)))
    })
    assert.equal(memory.tryLock(0), 'owner-died')
    memory.unlock(0)
  } finally {
    planter.kill('SIGKILL')
  }
  memory.close()
})

test('a worker blocked in lock() ends promptly when it is terminated, and takes nothing', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  assert.equal(memory.lock(0), 'acquired')
  const held = word(memory)
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const SharedMemory = require(${JSON.stringify(path.join(__dirname, '..'))})
     const memory = new SharedMemory(workerData.name, { create: false })
     parentPort.postMessage('locking')
     parentPort.postMessage(memory.lock(0, 120000))`,
    { eval: true, workerData: { name } },
  )
  await new Promise((resolve) => worker.once('message', resolve))
  await whenAnyThreadSleepsOn(memory) // asleep in lock(), not about to call it
  let timer
  const stuck = new Promise((resolve) => (timer = setTimeout(resolve, 20000, 'stuck')))
  assert.notEqual(await Promise.race([worker.terminate(), stuck]), 'stuck')
  clearTimeout(timer)
  assert.equal(word(memory) & ~(1n << 62n), held, 'still ours')
  memory.unlock(0)
  memory.close()
})

test('a lockAsync whose signal refuses listeners is stopped: it rejects, and takes nothing later', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  const { signal } = new AbortController()
  signal.addEventListener = () => {
    throw new Error('no listeners')
  }
  await assert.rejects(memory.lockAsync(0, 10000, signal), { message: 'no listeners' })
  owner.child.send('unlock')
  await owner.next((m) => m.unlocked)
  await new Promise((resolve) => setTimeout(resolve, 200)) // a waiter left behind would take it now
  assert.equal(memory.tryLock(0), 'acquired', 'nobody took it')
  memory.unlock(0)
  owner.child.kill('SIGKILL')
  await owner.exited
  memory.close()
})

test('a process that closes the block while holding a lock abandons it (Linux, Windows)', { skip: (supported !== true && supported) || (process.platform === 'darwin' && 'on macOS a live thread keeps its locks') }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  assert.equal(memory.tryLock(0), 'busy')
  owner.child.send('close')
  await owner.next((m) => m.closed)
  assert.equal(memory.tryLock(0), 'owner-died', 'the holder lives, but has let go of the block')
  memory.unlock(0)
  owner.child.kill('SIGKILL')
  await owner.exited
  memory.close()
})

test('while threads sleep waiting for a lock, its word keeps the waiters flag, so the unlock wakes one', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  const WAITERS = 1n << 62n
  const first = memory.lockAsync(0, 20000)
  const second = memory.lockAsync(0, 20000)
  await whenWaitersSleep(memory, 2)
  // Over several wait slices (a waiter looks at the owner every 50 ms), the flag never drops.
  for (let i = 0; i < 30; i++) {
    assert.equal(word(memory) & WAITERS, WAITERS, `look ${i}: ${word(memory).toString(16)}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  owner.child.send('unlock')
  // Either may get it first (the lock is not fair); the other gets it at this thread's unlock.
  const firstDone = first.then((result) => ['first', result])
  const secondDone = second.then((result) => ['second', result])
  const [winner, result] = await Promise.race([firstDone, secondDone])
  assert.equal(result, 'acquired')
  memory.unlock(0)
  assert.deepEqual(await (winner === 'first' ? secondDone : firstDone), [winner === 'first' ? 'second' : 'first', 'acquired'])
  memory.unlock(0)
  assert.equal(word(memory), 0n)
  owner.child.kill('SIGKILL')
  await owner.exited
  memory.close()
})

test('the offset defaults to 0, and the last whole lock of a block of any size works', { skip: supported !== true && supported }, () => {
  const name = uniqueName('lock-sizes')
  const memory = new SharedMemory(name, { size: 61 }) // not a multiple of LOCK_SIZE
  assert.equal(memory.lock(), 'acquired')
  assert.notEqual(word(memory, 0), 0n)
  memory.unlock()
  assert.equal(word(memory, 0), 0n)
  assert.equal(memory.lock(48), 'acquired', 'bytes 48..55: the last lock inside 61 bytes')
  memory.unlock(48)
  assert.equal(thrown(() => memory.lock(56)).code, 'ERR_OUT_OF_RANGE')
  memory.close()
})

test('lockAsync on a dead owner’s lock answers owner-died at once', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  owner.child.kill('SIGKILL')
  await owner.exited
  assert.equal(await memory.lockAsync(0), 'owner-died')
  memory.unlock(0)
  memory.close()
})

for (const death of [false, true]) {
  test(`a lockAsync aborted after its thread took the lock${death ? ' from a dead owner' : ''} gives it back as it was`, { skip: supported !== true && supported }, async () => {
    const { name, memory } = block()
    const owner = await holder(name)
    const controller = new AbortController()
    const pending = memory.lockAsync(0, Infinity, controller.signal)
    await whenWaitersSleep(memory, 1)
    const held = word(memory) & ~(1n << 62n)
    if (death) owner.child.kill('SIGKILL')
    else owner.child.send('unlock')
    // This thread stays busy until the waiter thread has taken the lock for it, then aborts in
    // the same turn: the result is on its way to JS, and arrives after the abort.
    const started = Date.now()
    while ((word(memory) & ~(1n << 62n)) === held || word(memory) === 0n) {
      if (Date.now() - started > 10000) throw new Error(`the lock never passed: ${word(memory).toString(16)}`)
    }
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    await new Promise((resolve) => setTimeout(resolve, 50)) // the late result comes in
    assert.equal(memory.tryLock(0), death ? 'owner-died' : 'acquired')
    memory.unlock(0)
    owner.child.kill('SIGKILL')
    await owner.exited
    memory.close()
  })
}

test('an unlock wakes the waiter asleep on the lock itself, not at its next look', { skip: (supported !== true && supported) || (process.platform === 'darwin' && 'notify on macOS does not say how many woke') }, async () => {
  const { name, memory } = block()
  assert.equal(memory.lock(0), 'acquired')
  const waiter = startChild('locker.js', [name, 'wait', '0'])
  await waiter.next((m) => m.ready)
  await whenSleeping(waiter.child.pid)
  memory.unlock(0)
  // The unlock's wake-up took the waiter off the word's queue at once: a notify on the word the
  // waiters sleep on (the upper half of the lock word) finds nobody left to wake.
  assert.equal(memory.notify(4), 0, 'the unlock left the waiter asleep')
  assert.equal((await waiter.next((m) => 'result' in m)).result, 'acquired')
  await waiter.exited
  assert.equal(memory.tryLock(0), 'owner-died', 'it exited holding it')
  memory.unlock(0)
  memory.close()
})

test('a program the holder started does not keep a dead holder alive', { skip: linuxOnly }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  owner.child.send('spawn')
  const { spawned } = await owner.next((m) => 'spawned' in m)
  try {
    owner.child.kill('SIGKILL')
    await owner.exited
    assert.equal(memory.tryLock(0), 'owner-died', 'the holder is dead, whatever it started lives on')
    memory.unlock(0)
  } finally {
    process.kill(spawned, 'SIGKILL')
  }
  memory.close()
})

test('one thread locks in several blocks, and in one block through several handles', { skip: supported !== true && supported }, () => {
  const first = block()
  const second = block()
  assert.equal(first.memory.lock(0), 'acquired')
  assert.equal(second.memory.lock(0), 'acquired')
  first.memory.unlock(0)
  // A second handle of the first block, made after the second block's lock: the same thread,
  // the same liveness mark.
  const again = new SharedMemory(first.name, { create: false })
  assert.equal(again.lock(0), 'acquired')
  assert.equal(first.memory.tryLock(0), 'busy', 'held by this thread, through the other handle')
  again.unlock(0)
  second.memory.unlock(0)
  again.close()
  first.memory.close()
  second.memory.close()
})

test('lockAsync: a late result after an abort (timed out, or the block closed meanwhile) is dropped quietly', { skip: supported !== true && supported }, async () => {
  const { name, memory } = block()
  const owner = await holder(name)
  // Timed out just before the abort: the 'timed-out' on its way is dropped, nothing is unlocked.
  let controller = new AbortController()
  let pending = memory.lockAsync(0, 50, controller.signal)
  const until = Date.now() + 400
  while (Date.now() < until); // the thread times out and posts its result meanwhile
  controller.abort()
  await assert.rejects(pending, { name: 'AbortError' })
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(memory.tryLock(0), 'busy', 'still the holder’s')
  // Taken, aborted, and the block closed before the result arrives: nothing to give back.
  const other = new SharedMemory(name, { create: false })
  controller = new AbortController()
  pending = other.lockAsync(0, Infinity, controller.signal)
  await whenWaitersSleep(other, 1)
  const held = word(memory) & ~(1n << 62n)
  owner.child.send('unlock')
  const started = Date.now()
  while ((word(memory) & ~(1n << 62n)) === held || word(memory) === 0n) {
    if (Date.now() - started > 10000) throw new Error(`never taken: ${word(memory).toString(16)}`)
  }
  controller.abort()
  other.close()
  await assert.rejects(pending, { name: 'AbortError' })
  await new Promise((resolve) => setTimeout(resolve, 50)) // no uncaught ERR_SHM_CLOSED meanwhile
  // The lock stays this thread's: it still has the block open through `memory`.
  assert.equal(memory.tryLock(0), 'busy')
  memory.unlock(0)
  assert.equal(memory.tryLock(0), 'acquired')
  memory.unlock(0)
  owner.child.kill('SIGKILL')
  await owner.exited
  memory.close()
})

test('lockAsync: its abort listener goes when it settles; close() rejects it with ERR_SHM_CLOSED', { skip: supported !== true && supported }, async () => {
  const { getEventListeners } = require('node:events')
  const { name, memory } = block()
  const owner = await holder(name)
  const { signal } = new AbortController()
  const timedOut = memory.lockAsync(0, 100, signal)
  assert.equal(getEventListeners(signal, 'abort').length, 1, 'while it waits')
  assert.equal(await timedOut, 'timed-out')
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'after it settled')
  const pending = memory.lockAsync(0, Infinity, signal)
  memory.close()
  await assert.rejects(pending, { code: 'ERR_SHM_CLOSED' })
  owner.child.kill('SIGKILL')
  await owner.exited
})
