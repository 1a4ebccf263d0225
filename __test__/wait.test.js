'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const crypto = require('node:crypto')
const { performance } = require('node:perf_hooks')
const { Worker } = require('node:worker_threads')
const path = require('node:path')

const { SharedMemory, uniqueName, startChild, thrown, whenSleeping, whenWaitersSleep, whenAnyThreadSleepsOn, threadsNamed, waitsInRing, whenChildSleeps } = require('./helpers')
const { waitsInKernel } = require('../binding.js')

const isLinux = process.platform === 'linux'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function block(size = 64) {
  const memory = new SharedMemory(uniqueName(), size)
  return { memory, words: new Int32Array(memory.view.buffer) }
}

test('waitAsync that saw the word equal answers ok when the word changes before its thread looks', async () => {
  // The word changes right after the call, before the waiter thread has looked at it: the call
  // saw it equal, so this is a wake-up ('ok'), never 'not-equal' (as with Atomics.waitAsync).
  const memory = new SharedMemory(uniqueName('late'), { size: 64 })
  const words = new Int32Array(memory.view.buffer)
  const answers = {}
  for (let i = 0; i < 300; i++) {
    Atomics.store(words, 0, 0)
    const waiting = memory.waitAsync(0, 0, 5000)
    Atomics.store(words, 0, 1)
    memory.notify(0)
    const answer = await waiting
    answers[answer] = (answers[answer] ?? 0) + 1
  }
  assert.deepEqual(answers, { ok: 300 })
  memory.close()
})

test('wait returns not-equal at once when the value differs', () => {
  const { memory, words } = block()
  words[1] = 7
  assert.equal(memory.wait(4, 6), 'not-equal')
  assert.equal(memory.wait(4, 6, 0), 'not-equal')
})

test('wait and waitAsync time out, neither early nor more than 20 ms late', async () => {
  const { memory } = block()
  for (const timeout of [0, 30]) {
    const late = []
    for (let i = 0; i < 5; i++) {
      let started = performance.now()
      assert.equal(memory.wait(0, 0, timeout), 'timed-out')
      const blocking = performance.now() - started
      started = performance.now()
      assert.equal(await memory.waitAsync(0, 0, timeout), 'timed-out')
      const async = performance.now() - started
      assert.ok(blocking >= timeout - 0.5 && async >= timeout - 0.5, `returned early: ${blocking}, ${async}`)
      late.push(Math.max(blocking, async) - timeout)
    }
    // The best of five, so that a busy machine does not decide the result.
    assert.ok(Math.min(...late) < 20, `late by ${late.join(', ')} ms`)
  }
})

test('expected is coerced like Atomics.wait does (ToInt32)', () => {
  const { memory, words } = block()
  words[0] = -1
  for (const expected of [-1, 0xffffffff, '-1', -1.9, { valueOf: () => -1 }, 2 ** 32 - 1]) {
    assert.equal(memory.wait(0, expected, 0), 'timed-out', String(expected))
  }
  words[0] = 0
  for (const expected of [0, NaN, Infinity, '', null, false, 2 ** 32, -0.5]) {
    assert.equal(memory.wait(0, expected, 0), 'timed-out', String(expected))
  }
  assert.throws(() => memory.wait(0, Symbol('x'), 0), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'expected must be a number, got a symbol' })
  assert.throws(() => memory.wait(0, 1n, 0), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'expected must be a number, got a bigint' })
})

test('offsets must be multiples of 4 inside the block; timeouts and counts must be numbers', async () => {
  const { memory } = block(16)
  for (const offset of [1, 2, -4, 16, 14, 1.5, NaN, Infinity]) {
    for (const call of [() => memory.wait(offset, 0, 0), () => memory.notify(offset)]) {
      const error = thrown(call)
      assert.equal(error.constructor, RangeError, `offset ${offset}`)
      assert.equal(error.code, 'ERR_OUT_OF_RANGE')
    }
    await assert.rejects(memory.waitAsync(offset, 0, 0), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  }
  for (const call of [() => memory.wait('0', 0, 0), () => memory.wait(0, 0, '10'), () => memory.notify(0, '1')]) {
    assert.equal(thrown(call).code, 'ERR_INVALID_ARG_TYPE')
  }
  for (const count of [-1, 1.5, NaN, -Infinity]) {
    const error = thrown(() => memory.notify(0, count))
    assert.equal(error.code, 'ERR_OUT_OF_RANGE', String(count))
    assert.equal(error.message, `count must be a non-negative integer or Infinity, got ${count}`)
  }
  await assert.rejects(memory.waitAsync(0, 0, 0, {}), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.equal(memory.wait(12, 0, 0), 'timed-out')
})

test('notify with no waiters wakes no one', () => {
  const { memory } = block()
  assert.equal(memory.notify(0), 0)
  assert.equal(memory.notify(0, 1), 0)
  assert.equal(memory.notify(0, 0), 0)
})

for (const kind of ['wait', 'waitAsync']) {
  test(`${kind} in another process wakes on notify, with or without a new value`, async () => {
    const { memory, words } = block()
    // A notify that leaves the value alone: only the wake-up can end the wait.
    const plain = startChild('waiter.js', [memory.name, kind, '0', '0', '10000'])
    await plain.next((m) => m.ready)
    await whenChildSleeps(plain, kind)
    assert.equal(memory.notify(0), 1)
    assert.deepEqual(await plain.next((m) => 'result' in m), { result: 'ok' })
    // The usual pattern: change the value, then notify.
    const changed = startChild('waiter.js', [memory.name, kind, '8', '0', '10000'])
    await changed.next((m) => m.ready)
    await whenChildSleeps(changed, kind)
    Atomics.store(words, 2, 1)
    memory.notify(8)
    assert.deepEqual(await changed.next((m) => 'result' in m), { result: 'ok' })
    assert.equal((await plain.exited).code, 0)
    assert.equal((await changed.exited).code, 0)
  })
}

test('notify wakes at most count waiters and says how many, across processes', async () => {
  const { memory } = block()
  const waiters = [0, 1, 2].map(() => startChild('waiter.js', [memory.name, 'wait', '4', '0', '20000']))
  for (const waiter of waiters) {
    await waiter.next((m) => m.ready)
    await whenSleeping(waiter.child.pid)
  }
  assert.equal(memory.notify(4, 2), 2)
  const results = waiters.map((waiter) => waiter.next((m) => 'result' in m).then(() => waiter))
  const first = await Promise.race(results)
  const second = await Promise.race(results.filter((_, i) => waiters[i] !== first))
  const third = waiters.find((waiter) => waiter !== first && waiter !== second)
  await whenSleeping(third.child.pid) // the third still sleeps: the notify woke two, not three
  assert.equal(third.child.exitCode, null)
  assert.equal(memory.notify(4), 1)
  for (const waiter of waiters) assert.deepEqual(await waiter.next((m) => 'result' in m), { result: 'ok' })
})

test('a wait is not ended by signals or by notifies of another offset', async () => {
  const { memory } = block()
  for (const kind of ['wait', 'waitAsync']) {
    const waiter = startChild('waiter.js', [memory.name, kind, '4', '0', '600'])
    await waiter.next((m) => m.ready)
    const deadline = Date.now() + 400
    while (Date.now() < deadline) {
      memory.notify(0)
      memory.notify(8)
      waiter.child.kill('SIGURG')
      await sleep(10)
    }
    assert.deepEqual(await waiter.next((m) => 'result' in m), { result: 'timed-out' }, kind)
  }
})

test('waitAsync calls started one after another each get a thread, idle ones first', { skip: (!isLinux && 'counts sleeping threads in /proc') || (waitsInRing && 'waits share the wait ring here, not threads: wait-threads.test.js runs this file with threads') }, async () => {
  const { memory } = block()
  // Two waiter threads that finished their waits and are idle now.
  const first = [memory.waitAsync(0, 0), memory.waitAsync(0, 0)]
  await whenWaitersSleep(memory, 2)
  assert.equal(memory.notify(0), 2)
  assert.deepEqual(await Promise.all(first), ['ok', 'ok'])
  await whenWaitersSleep(memory, 0, { exactly: true })
  // Four more, one at a time: two take the idle threads, two need new ones. Each must be asleep
  // on the word before the next starts (a wait handed to a thread that is not there never is).
  const idle = threadsNamed(process.pid, 'shared-memory-w').length
  const later = []
  for (let i = 1; i <= idle + 2; i++) {
    later.push(memory.waitAsync(0, 0))
    await whenWaitersSleep(memory, i, { timeoutMs: 5000 })
  }
  assert.equal(memory.notify(0), later.length)
  assert.deepEqual(await Promise.all(later), Array(later.length).fill('ok'))
})

test('pending waitAsync calls leave the libuv thread pool free', async () => {
  const { memory } = block()
  const pending = Array.from({ length: 16 }, () => memory.waitAsync(0, 0))
  await whenWaitersSleep(memory, 16)
  const file = fs.promises.readFile(__filename, 'utf8')
  const hash = new Promise((resolve, reject) =>
    crypto.pbkdf2('secret', 'salt', 1000, 32, 'sha256', (error, key) => (error ? reject(error) : resolve(key))),
  )
  const stuck = sleep(10000).then(() => 'stuck')
  assert.notEqual(await Promise.race([Promise.all([file, hash]), stuck]), 'stuck')
  assert.equal(memory.notify(0), 16)
  assert.deepEqual(await Promise.all(pending), Array(16).fill('ok'))
})

test('thousands of waitAsync calls can be pending at once', { timeout: 120000 }, async () => {
  const { memory } = block()
  const count = 2000
  const pending = Array.from({ length: count }, () => memory.waitAsync(0, 0, 60000))
  await whenWaitersSleep(memory, count)
  if (waitsInRing) assert.equal(memory.notify(0), count)
  else {
    // A waiter thread is out of the futex for an instant between two wait slices, where a notify
    // that leaves the word alone misses it (docs/decisions.md): change the word, as usual.
    Atomics.store(new Int32Array(memory.view.buffer), 0, 1)
    assert.ok(memory.notify(0) <= count)
  }
  const results = await Promise.all(pending)
  assert.equal(results.filter((r) => r === 'ok').length, count)
})

/**
 * Whether this kernel must give waitAsync calls the wait ring, judged without asking the addon:
 * Linux 6.7 or later (io_uring futex waits), io_uring not turned off, no seccomp filter (which
 * may refuse io_uring: Docker's default profile does), and SHARED_MEMORY_WAIT_THREADS unset.
 * A string says why it cannot be judged or is not expected.
 */
function ringExpected() {
  if (!isLinux) return 'Linux only'
  if (process.env.SHARED_MEMORY_WAIT_THREADS !== undefined) return 'SHARED_MEMORY_WAIT_THREADS is set'
  const [major, minor] = require('node:os').release().split('.').map(Number)
  if (major < 6 || (major === 6 && minor < 7)) return `Linux ${major}.${minor} has no io_uring futex waits`
  const disabled = fs.existsSync('/proc/sys/kernel/io_uring_disabled') ? fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() : '0'
  if (disabled !== '0') return `kernel.io_uring_disabled is ${disabled}`
  if (!/^Seccomp:\s*0$/m.test(fs.readFileSync('/proc/self/status', 'utf8'))) return 'a seccomp filter may refuse io_uring here'
  return true
}

test('where the kernel offers io_uring futex waits, pending waitAsync calls wait in the kernel, not on threads', { skip: ringExpected() !== true && ringExpected() }, async () => {
  assert.equal(waitsInRing, true, 'the addon did not start its wait ring on a kernel that has io_uring futex waits')
  const { memory } = block()
  const threads = threadsNamed(process.pid, 'shared-memory-w').length
  const pending = Array.from({ length: 8 }, () => memory.waitAsync(0, 0))
  await whenWaitersSleep(memory, 8)
  assert.equal(waitsInKernel(memory.name), 8)
  assert.equal(threadsNamed(process.pid, 'shared-memory-w').length, threads, 'no waiter thread started')
  assert.equal(memory.notify(0), 8)
  assert.deepEqual(await Promise.all(pending), Array(8).fill('ok'))
})

test('the wait ring\'s thread sleeps while its waits are pending: no busy loop', { timeout: 30000, skip: ringExpected() !== true && ringExpected() }, async () => {
  const { memory } = block()
  const pending = [memory.waitAsync(0, 0), memory.waitAsync(4, 0, 60000)]
  await whenWaitersSleep(memory, 2)
  const [ring] = threadsNamed(process.pid, 'shared-memory-r')
  assert.ok(ring, 'the wait ring has a thread')
  const stat = () => fs.readFileSync(`/proc/self/task/${ring}/stat`, 'utf8').split(') ')[1].split(' ')
  // utime and stime, in clock ticks (fields 14 and 15; 1 and 2 after the name's bracket: state is 0).
  const ticks = () => Number(stat()[11]) + Number(stat()[12])
  const before = ticks()
  await sleep(500)
  const spent = ticks() - before
  assert.ok(spent <= 5, `the ring's thread ran for ${spent} ticks of 500 ms with nothing to do`)
  assert.equal(stat()[0], 'S', 'the ring\'s thread is asleep')
  assert.equal(memory.notify(0) + memory.notify(4), 2)
  assert.deepEqual(await Promise.all(pending), ['ok', 'ok'])
})

test('waits on words past the first page watch their own word, through a page of their own', async () => {
  // 64 KiB: at least three pages wherever the page size is 4 or 16 KiB. Each word waited on lies
  // in a page of its own, at an offset within the page that differs from page to page, and the
  // same offsets of the first page hold other values: a wait that looked at the wrong page or
  // the wrong place on it would answer 'not-equal' at once.
  const { memory, words } = block(64 * 1024)
  const notifier = new SharedMemory(memory.name, { create: false })
  const offsets = [4096 + 4, 3 * 4096 + 40, 64 * 1024 - 4]
  const mappedBefore = isLinux ? mappedBytes(memory.name) : 0
  offsets.forEach((offset, i) => {
    Atomics.store(words, offset / 4, 7 + i)
    Atomics.store(words, (offset % 4096) / 4, 100 + i)
  })
  const pending = offsets.map((offset, i) => memory.waitAsync(offset, 7 + i, 60000))
  assert.deepEqual(await Promise.all(offsets.map((offset, i) => memory.waitAsync(offset, 8 + i, 60000))), ['not-equal', 'not-equal', 'not-equal'])
  assert.equal(memory.wait(offsets[2], 10, 1000), 'not-equal')
  await whenWaitersSleep(memory, offsets.length)
  if (isLinux) {
    // Each pending wait maps its word's page again: the block's mappings (the two handles') grow
    // by one page per wait (adjacent mappings of one file may be listed as one range).
    const bytes = mappedBytes(memory.name)
    const page = (bytes - mappedBefore) / offsets.length
    assert.ok([4096, 16384, 65536].includes(page), `${bytes} bytes of the block mapped while ${offsets.length} waits are pending`)
  }
  offsets.forEach((offset, i) => assert.equal(notifier.notify(offset), 1, `notify(${offset}) woke its waiter`))
  assert.deepEqual(await Promise.all(pending), ['ok', 'ok', 'ok'])
  if (isLinux) {
    await whenWaitersSleep(memory, 0, { exactly: true })
    for (let i = 0; i < 200 && mappedBytes(memory.name) > mappedBefore; i++) await sleep(10)
    assert.equal(mappedBytes(memory.name), mappedBefore, 'the pages mapped again are unmapped when the waits end')
  }
  notifier.close()
})

/** The bytes of /dev/shm/<name> that this process has mapped (/proc/self/maps). */
function mappedBytes(name) {
  let bytes = 0
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const fields = line.split(/\s+/)
    if (fields[5] !== `/dev/shm/${name}`) continue
    const [start, end] = fields[0].split('-').map((hex) => parseInt(hex, 16))
    bytes += end - start
  }
  return bytes
}

test('ten thousand pending waitAsync calls share one thread, and each settles once: woken, timed out, aborted or closed', { timeout: 120000, skip: !waitsInRing && 'waitAsync calls take a thread each here (no io_uring futex waits, or SHARED_MEMORY_WAIT_THREADS is set)' }, async () => {
  const threads = () => fs.readdirSync('/proc/self/task').length
  const before = threads()
  const { memory } = block(4096)
  const woken = Array.from({ length: 10000 }, (_, i) => memory.waitAsync(4 * (i % 100), 0))
  const timed = Array.from({ length: 1000 }, () => memory.waitAsync(400, 0, 3000))
  const controller = new AbortController()
  require('node:events').setMaxListeners(2000, controller.signal)
  const aborted = Array.from({ length: 1000 }, () => memory.waitAsync(404, 0, Infinity, controller.signal).catch((error) => error.name))
  const closed = Array.from({ length: 1000 }, () => memory.waitAsync(408, 0).catch((error) => error.code))
  await whenWaitersSleep(memory, 13000)
  assert.ok(threads() <= before + 1, `${threads() - before} threads more for 13,000 waits`)
  // Each wait maps its word's page again (for a wake-up handed on after close()), but at most
  // 4096 of them at once: V8 needs mappings too, and Linux allows a process about 65,000.
  const mappings = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(`/dev/shm/${memory.name}`))
  assert.ok(mappings.length <= 4096 + 1, `${mappings.length} mappings of the block`)
  assert.ok(mappings.length > 1000, `${mappings.length} mappings of the block`)
  assert.deepEqual(new Set(await Promise.all(timed)), new Set(['timed-out']))
  controller.abort()
  assert.deepEqual(new Set(await Promise.all(aborted)), new Set(['AbortError']))
  // The kernel held each one: a notify wakes each exactly once, and those that ended wake nobody.
  let count = 0
  for (let word = 0; word < 100; word++) count += memory.notify(4 * word)
  assert.equal(count, 10000)
  assert.deepEqual(new Set(await Promise.all(woken)), new Set(['ok']))
  assert.equal(memory.notify(400) + memory.notify(404), 0)
  const notifier = new SharedMemory(memory.name, { create: false })
  memory.close()
  assert.deepEqual(new Set(await Promise.all(closed)), new Set(['ERR_SHM_CLOSED']))
  await whenWaitersSleep(memory.name, 0, { exactly: true })
  assert.equal(notifier.notify(408), 0, 'close() took the waits out of the kernel')
  notifier.close()
})

test('an aborted signal rejects with an AbortError and releases the waiter', async () => {
  const { memory } = block()
  const early = new AbortController()
  early.abort()
  await assert.rejects(memory.waitAsync(0, 0, Infinity, early.signal), { name: 'AbortError', code: 'ABORT_ERR' })

  const controller = new AbortController()
  const aborted = memory.waitAsync(0, 0, Infinity, controller.signal)
  await whenWaitersSleep(memory, 1)
  const other = memory.waitAsync(0, 0, 5000)
  await whenWaitersSleep(memory, 2)
  controller.abort(new Error('no longer needed'))
  await assert.rejects(aborted, (error) => error.name === 'AbortError' && error.cause.message === 'no longer needed')
  // The aborted waiter sleeps first in line: its wake-up must reach the other one.
  memory.notify(0, 1)
  assert.equal(await other, 'ok')
})

test('a notify right after an abort wakes the waiter still waiting, in every round', async () => {
  // The aborted waiter may still be queued on the word when the notify comes (a waiter thread
  // leaves the kernel's queue only once it runs again): its wake-up must go on, never be lost.
  // This lost about one round in eight when it was (the thread path, on Linux).
  const { memory } = block()
  const answers = []
  for (let round = 0; round < 40; round++) {
    const controller = new AbortController()
    const aborted = memory.waitAsync(0, 0, Infinity, controller.signal).catch((error) => error.name)
    await whenWaitersSleep(memory, 1)
    const other = memory.waitAsync(0, 0, 2000)
    await whenWaitersSleep(memory, 2)
    controller.abort()
    memory.notify(0, 1)
    answers.push(await other)
    assert.equal(await aborted, 'AbortError')
  }
  assert.deepEqual(answers, Array(40).fill('ok'))
})

test('close() settles pending waitAsync calls with ERR_SHM_CLOSED and unmaps once their threads let go', async () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, { size: 4096 })
  const pending = [memory.waitAsync(0, 0), memory.waitAsync(4, 0, 60000)]
  await whenWaitersSleep(memory, 2)
  memory.close()
  for (const wait of pending) await assert.rejects(wait, { code: 'ERR_SHM_CLOSED' })
  await assert.rejects(memory.waitAsync(0, 0), { code: 'ERR_SHM_CLOSED' })
  assert.equal(thrown(() => memory.wait(0, 0, 0)).code, 'ERR_SHM_CLOSED')
  assert.equal(thrown(() => memory.notify(0)).code, 'ERR_SHM_CLOSED')
  if (isLinux) {
    const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes(`/dev/shm/${name}`)
    for (let i = 0; i < 200 && mapped(); i++) await sleep(10)
    assert.equal(mapped(), false)
  }
})

test('close() with waitAsync calls pending: the block leaves the process before close() returns', { skip: !isLinux && 'reads /proc/self/maps' }, async () => {
  // Each pending wait maps its word's page again; close() interrupts their sleeps and waits for
  // them to let go of those pages, which would otherwise hold a host's pages for up to a slice.
  const name = uniqueName('close-waits')
  const memory = new SharedMemory(name, { size: 3 * 4096 })
  const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes(`/dev/shm/${name}`)).length
  const pending = [0, 4096, 8192, 8196].map((offset) => memory.waitAsync(offset, 0))
  await whenWaitersSleep(memory, 4)
  assert.ok(mapped() > 1, `the waits hold pages of their own: ${mapped()} mappings`)
  memory.close()
  assert.equal(mapped(), 0, 'no mapping of the block is left once close() returned')
  for (const wait of pending) await assert.rejects(wait, { code: 'ERR_SHM_CLOSED' })
})

/**
 * Whether this kernel must let a waiter thread sleep in futex_waitv, judged without asking the
 * addon: Linux 5.16 or later and no seccomp filter (which may refuse the call). A string says
 * why it cannot be judged.
 */
function waitvExpected() {
  if (!isLinux) return 'Linux only'
  if (waitsInRing) return 'waitAsync takes no thread here: wait-threads.test.js runs this file with threads'
  const [major, minor] = require('node:os').release().split('.').map(Number)
  if (major < 5 || (major === 5 && minor < 16)) return `Linux ${major}.${minor} has no futex_waitv`
  if (!/^Seccomp:\s*0$/m.test(fs.readFileSync('/proc/self/status', 'utf8'))) return 'a seccomp filter may refuse futex_waitv here'
  return true
}

test('where the kernel has futex_waitv, waiter threads sleep in it, so that close() ends their sleeps at once', { skip: waitvExpected() !== true && waitvExpected() }, async () => {
  // Without it a waiter thread sleeps in futex(2), and close() holds up the JS thread until the
  // thread's slice ends (up to 250 ms) before the block's pages are given back.
  const { memory } = block()
  const pending = [memory.waitAsync(0, 0), memory.waitAsync(4, 0)]
  await whenWaitersSleep(memory, 2)
  // The system call each waiter thread is in: futex_waitv is 449 on x86_64 and arm64 (idle
  // threads wait in futex(2), 202 or 98, on their queue's condition variable).
  const calls = threadsNamed(process.pid, 'shared-memory-w').map((tid) => fs.readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').split(' ')[0])
  memory.close()
  for (const wait of pending) await assert.rejects(wait, { code: 'ERR_SHM_CLOSED' })
  assert.equal(calls.filter((call) => call === '449').length, 2, `the waiter threads' system calls: ${calls}`)
})

test('close() right after waitAsync and lockAsync calls rejects every one with ERR_SHM_CLOSED', async () => {
  // Their threads start while close() cancels them, some before, some after it: none may settle
  // its own answer first ('ok' for a wait, 'timed-out' for a lock).
  for (let round = 0; round < 100; round++) {
    const memory = new SharedMemory(uniqueName('close-at-once'), { size: 8192 })
    memory.lock(8) // held by this thread: its lockAsync waits for the unlock
    const pending = [memory.waitAsync(0, 0), memory.waitAsync(4096, 0), memory.waitAsync(4100, 0, 60000), memory.lockAsync(8)]
    if (round % 3 === 1) await new Promise(setImmediate)
    if (round % 3 === 2) await sleep(1)
    memory.close()
    const results = await Promise.all(pending.map((call) => call.then((value) => `resolved ${value}`, (error) => error.code)))
    assert.deepEqual(results, ['ERR_SHM_CLOSED', 'ERR_SHM_CLOSED', 'ERR_SHM_CLOSED', 'ERR_SHM_CLOSED'], `round ${round}`)
  }
})

test('a waiter whose process is killed leaves nothing behind', async () => {
  const { memory } = block()
  const doomed = startChild('waiter.js', [memory.name, 'wait', '0', '0', '20000'])
  await doomed.next((m) => m.ready)
  await whenSleeping(doomed.child.pid)
  doomed.child.kill('SIGKILL')
  assert.equal((await doomed.exited).signal, 'SIGKILL')
  const survivor = startChild('waiter.js', [memory.name, 'waitAsync', '0', '0', '20000'])
  await survivor.next((m) => m.ready)
  await whenChildSleeps(survivor, 'waitAsync')
  assert.equal(memory.notify(0, 1), 1)
  assert.deepEqual(await survivor.next((m) => 'result' in m), { result: 'ok' })
})

test('a read-only block can wait and notify', async () => {
  const { memory } = block()
  const reader = new SharedMemory(memory.name, { create: false, readOnly: true })
  assert.equal(reader.wait(0, 0, 1), 'timed-out')
  const waiting = reader.waitAsync(0, 0, 5000)
  await whenWaitersSleep(memory, 1)
  assert.equal(reader.notify(0), 1)
  assert.equal(await waiting, 'ok')
})

test('a worker blocked in wait() ends promptly when it is terminated', async () => {
  const { memory } = block()
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const SharedMemory = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const memory = new SharedMemory(workerData.name, { create: false })
    parentPort.postMessage('waiting')
    memory.wait(0, 0, 120000)
    parentPort.postMessage('woke')`
  const worker = new Worker(code, { eval: true, workerData: { name: memory.name } })
  const messages = []
  worker.on('message', (message) => messages.push(message))
  await new Promise((resolve) => worker.once('message', resolve))
  // Terminated before it reaches the wait, it would stop anyway: it must be asleep in it first.
  await whenAnyThreadSleepsOn(memory)
  // The wait looks for termination between its slices: a terminated worker leaves it within one,
  // not after its two minutes.
  let timer
  const stuck = new Promise((resolve) => (timer = setTimeout(resolve, 20000, 'stuck')))
  const ended = await Promise.race([worker.terminate(), stuck])
  clearTimeout(timer)
  assert.notEqual(ended, 'stuck')
  // (The wait may return to the worker's code just before it stops: a 'woke' may come through,
  // as the README says.)
  assert.equal(messages[0], 'waiting')
  assert.equal(memory.notify(0), 0)
})

test('a worker that exits with waitAsync calls pending is cleaned up without a crash', async () => {
  const { memory } = block()
  const worker = new Worker(path.join(__dirname, 'fixtures', 'wait-worker.js'), { workerData: { name: memory.name } })
  const ready = new Promise((resolve) => worker.once('message', resolve))
  assert.equal(await ready, 'waiting')
  await whenWaitersSleep(memory, 3)
  assert.equal(await worker.terminate(), 1)
  // Its waiters notice within a wait slice, stop sleeping on the word and wake no one afterwards.
  await whenWaitersSleep(memory, 0, { exactly: true })
  assert.equal(memory.notify(0), 0)
})

test('a notify that reaches a waitAsync thread of a block closed meanwhile is handed on to a waiter in another process', { skip: !isLinux && 'the hand-on keeps its own mapping of the page on Linux only' }, async () => {
  const name = uniqueName('handed-on')
  const host = new SharedMemory(name, { size: 64 })
  const notifier = new SharedMemory(name, { create: false })
  // This process's waitAsync goes to sleep first: the kernel wakes sleepers in that order.
  const pending = host.waitAsync(0, 0, 60000)
  await whenWaitersSleep(host, 1)
  const other = startChild('waiter.js', [name, 'wait', '0', '0', '20000'])
  await other.next((m) => m.ready)
  await whenSleeping(other.child.pid)
  // Where a sleep can be interrupted (futex_waitv, the ring), close() takes this process's waiter
  // out of line and the notify goes to the other process at once; elsewhere the waiter sleeps on
  // for up to a slice, cancelled, and hands the wake-up on.
  host.close()
  await assert.rejects(pending, { code: 'ERR_SHM_CLOSED' })
  const started = Date.now()
  assert.equal(notifier.notify(0, 1), 1)
  const { result } = await other.next((m) => 'result' in m)
  assert.equal(result, 'ok', 'the wake-up reached the other process')
  assert.ok(Date.now() - started < 5000, `woke after ${Date.now() - started} ms`)
  notifier.close()
})
