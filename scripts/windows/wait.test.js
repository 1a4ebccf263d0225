'use strict'

// wait / notify / waitAsync between Windows processes. Windows has no
// cross-process WaitOnAddress: each waiter has a named event, registered in a
// named table that a named mutex guards (src/os/windows.rs). These tests make
// one process sleep and the other wake it.
//
// A notify only counts waiters that are already asleep. Where a test must know
// that, the notifier calls notify until it reports a waiter woken (no waiter of
// its own exists, so that count can only come from the other process), or
// sleeps a generous SETTLE first where the count itself is what is tested.

const test = require('node:test')
const assert = require('node:assert/strict')

const { uniqueName, open, sleep, eventually, Child } = require('./helpers')

const SETTLE = 500

/** Calls `memory.notify(offset, 1)` until it wakes one waiter; returns how many calls that took. */
async function notifyUntilWoken(memory, offset, timeoutMs = 10000) {
  const started = Date.now()
  for (let calls = 1; Date.now() - started < timeoutMs; calls++) {
    const woken = memory.notify(offset, 1)
    if (woken !== 0) {
      assert.equal(woken, 1, 'notify(offset, 1) wakes at most one')
      return calls
    }
    await sleep(2)
  }
  throw new Error(`no waiter on offset ${offset} woke within ${timeoutMs} ms`)
}

/** A block in this process and the same block attached in a child. */
async function shared(t, options = {}) {
  const child = await Child.start(t)
  const name = uniqueName('wait')
  const memory = open(t, name, { size: 4096, ...options })
  const words = new Int32Array(memory.view.buffer)
  const { handle } = await child.call('open', name, { create: false, global: options.global })
  return { child, memory, words, handle }
}

test('wait in a child sleeps until the parent notifies; notify returns 1', async (t) => {
  const { child, memory, handle } = await shared(t)
  assert.equal(memory.notify(8), 0, 'nobody waits yet')
  const waiting = child.call('wait', handle, 8, 0, 20000)
  await notifyUntilWoken(memory, 8)
  const { result, ms } = await waiting
  assert.equal(result, 'ok')
  assert.ok(ms < 15000, `woken by the notify, not by the timeout (${ms} ms)`)
  assert.equal(memory.notify(8), 0, 'the woken waiter left the table')
})

test('waitAsync in the parent resolves when the child changes the word and notifies', async (t) => {
  const { child, memory, words, handle } = await shared(t)
  const started = Date.now()
  const waiting = memory.waitAsync(12, 0, 20000)
  await sleep(SETTLE)
  const woken = await child.call('storeAndNotify', handle, 12, 1)
  assert.equal(await waiting, 'ok')
  assert.equal(Atomics.load(words, 3), 1)
  assert.ok(Date.now() - started < 15000)
  // 1: the notify woke the parent. (0 only if the parent's waiter saw the new
  // value between the store and the notify, at the end of a wait slice.)
  assert.ok(woken === 1 || woken === 0, `notify returned ${woken}`)
})

test('a notify wakes waiters of the other process only on its own offset', async (t) => {
  const { child, memory, handle } = await shared(t)
  const onFour = child.call('waitAsyncMany', handle, 4, 0, 20000, 1)
  const onEight = child.call('waitAsyncMany', handle, 8, 0, 1500, 1)
  await notifyUntilWoken(memory, 4)
  const [first] = await onFour
  assert.equal(first.result, 'ok')
  const [second] = await onEight
  assert.equal(second.result, 'timed-out', 'the waiter on offset 8 was not woken')
})

test('notify returns how many it woke, and wakes no more than count', async (t) => {
  const { child, memory, handle } = await shared(t)
  // Two waiters on one word: notify() wakes both and says so.
  const both = child.call('waitAsyncMany', handle, 16, 0, 20000, 2)
  await sleep(SETTLE)
  assert.equal(memory.notify(16), 2)
  assert.deepEqual(
    (await both).map((r) => r.result),
    ['ok', 'ok'],
  )
  assert.equal(memory.notify(16), 0)

  // Three waiters: notify(offset, 1) wakes one, notify(offset, 5) the other two.
  const three = child.call('waitAsyncMany', handle, 20, 0, 20000, 3)
  await sleep(SETTLE)
  assert.equal(memory.notify(20, 1), 1)
  assert.equal(memory.notify(20, 0), 0)
  assert.equal(memory.notify(20, 5), 2)
  assert.deepEqual(
    (await three).map((r) => r.result),
    ['ok', 'ok', 'ok'],
  )
})

test('the child notifies waiters of the parent, counting them', async (t) => {
  const { child, memory, handle } = await shared(t)
  const waits = [memory.waitAsync(24, 0, 20000), memory.waitAsync(24, 0, 20000), memory.waitAsync(24, 0, 20000)]
  const { woken, counts } = await child.call('notifyUntil', handle, 24, 3)
  assert.equal(woken, 3)
  assert.ok(counts.every((n) => n >= 1 && n <= 3), String(counts))
  assert.deepEqual(await Promise.all(waits), ['ok', 'ok', 'ok'])
})

test('timeouts: wait and waitAsync return timed-out, neither early nor hung', async (t) => {
  const { child, memory, handle } = await shared(t)
  const remote = await child.call('wait', handle, 28, 0, 300)
  assert.equal(remote.result, 'timed-out')
  assert.ok(remote.ms >= 290 && remote.ms < 5000, `${remote.ms} ms`)
  let started = Date.now()
  assert.equal(memory.wait(28, 0, 200), 'timed-out')
  assert.ok(Date.now() - started >= 190)
  started = Date.now()
  assert.equal(await memory.waitAsync(28, 0, 200), 'timed-out')
  assert.ok(Date.now() - started >= 190)
  assert.equal(memory.wait(28, 0, 0), 'timed-out')
  assert.equal(await memory.waitAsync(28, 0, 0), 'timed-out')
  // Nothing is left on the table: a notify finds no one.
  assert.equal(memory.notify(28), 0)
})

test('not-equal at once when the word differs', async (t) => {
  const { child, memory, words, handle } = await shared(t)
  Atomics.store(words, 8, 5)
  const remote = await child.call('wait', handle, 32, 4, 20000)
  assert.equal(remote.result, 'not-equal')
  assert.equal(memory.wait(32, 4), 'not-equal')
  assert.equal(await memory.waitAsync(32, 4), 'not-equal')
  // `expected` is coerced as Atomics.wait does (ToInt32).
  Atomics.store(words, 8, -1)
  assert.equal(memory.wait(32, 2 ** 32 - 1, 0), 'timed-out')
})

test('a change of the word without a notify ends the wait (within a wait slice)', async (t) => {
  const { child, memory, words, handle } = await shared(t)
  const waiting = child.call('waitAsyncMany', handle, 36, 0, 10000, 1)
  await sleep(SETTLE)
  Atomics.store(words, 9, 1)
  const [async] = await waiting
  assert.equal(async.result, 'ok')
  assert.ok(async.ms < 5000, `noticed after ${async.ms} ms`)
  // A blocking wait holds up the child's event loop: one at a time.
  const sync = child.call('wait', handle, 40, 0, 10000)
  await sleep(SETTLE)
  Atomics.store(words, 10, 1)
  const blocking = await sync
  assert.equal(blocking.result, 'ok')
  assert.ok(blocking.ms < 5000, `noticed after ${blocking.ms} ms`)
  assert.equal(memory.notify(36) + memory.notify(40), 0, 'and the waiters left the table')
})

test('waitAsync with an AbortSignal: rejects with AbortError and leaves the table', async (t) => {
  const { child, memory, handle } = await shared(t)
  const controller = new AbortController()
  const waiting = memory.waitAsync(44, 0, Infinity, controller.signal)
  await sleep(SETTLE)
  controller.abort()
  await assert.rejects(waiting, { name: 'AbortError', code: 'ABORT_ERR' })
  // The waiter thread notices within a wait slice (250 ms) and unregisters.
  await sleep(SETTLE)
  assert.equal(await child.call('notify', handle, 44), 0, 'no waiter is left to wake')
  await assert.rejects(memory.waitAsync(44, 0, Infinity, AbortSignal.abort()), { name: 'AbortError' })
  await assert.rejects(memory.waitAsync(44, 0, Infinity, 'signal'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
})

test('an aborted waiter that a notify picked hands the wake-up on to the other process', async (t) => {
  const { child, memory, handle } = await shared(t)
  const controller = new AbortController()
  // The parent's waiter registers first, so a notify finds it first.
  const mine = memory.waitAsync(48, 0, Infinity, controller.signal)
  await sleep(SETTLE)
  const theirs = child.call('waitAsyncMany', handle, 48, 0, 10000, 1)
  await sleep(SETTLE)
  controller.abort()
  assert.equal(memory.notify(48, 1), 1)
  await assert.rejects(mine, { name: 'AbortError' })
  const [result] = await theirs
  assert.equal(result.result, 'ok', 'the child got the wake-up')
  assert.ok(result.ms < 9000, `after ${result.ms} ms`)
})

test('close() rejects a pending waitAsync with ERR_SHM_CLOSED', async (t) => {
  const { child, memory, handle } = await shared(t)
  const waiting = memory.waitAsync(52, 0)
  await sleep(SETTLE)
  memory.close()
  await assert.rejects(waiting, { code: 'ERR_SHM_CLOSED' })
  await sleep(SETTLE)
  assert.equal(await child.call('notify', handle, 52), 0, 'the closed waiter left the table')
})

test('a child killed while it waits leaves nothing that swallows a notify', async (t) => {
  const { child, memory, handle } = await shared(t)
  const second = await Child.start(t)
  const attached = await second.call('open', memory.name, { create: false })
  child.call('wait', handle, 56, 0, 60000).catch(() => {})
  await sleep(SETTLE)
  await child.kill()
  const waiting = second.call('waitAsyncMany', attached.handle, 56, 0, 10000, 1)
  await sleep(SETTLE)
  // The killed waiter's entry is dropped (its event is gone); the live one wakes.
  assert.equal(memory.notify(56, 1), 1)
  const [result] = await waiting
  assert.equal(result.result, 'ok')
})

test('Global\\ blocks: wait and notify across processes', async (t) => {
  const { child, memory, handle } = await shared(t, { global: true })
  assert.equal(memory.global, true)
  const waiting = child.call('wait', handle, 60, 0, 20000)
  await notifyUntilWoken(memory, 60)
  assert.equal((await waiting).result, 'ok')
  const mine = memory.waitAsync(60, 0, 20000)
  const { woken } = await child.call('notifyUntil', handle, 60, 1)
  assert.equal(woken, 1)
  assert.equal(await mine, 'ok')
})

test('a local and a Global block of one name do not share waiters', async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('ns')
  const local = open(t, name, { size: 64 })
  const global = open(t, name, { size: 64, global: true })
  const { handle } = await child.call('open', name, { create: false, global: true })
  const waiting = child.call('waitAsyncMany', handle, 0, 0, 1500, 1)
  await sleep(SETTLE)
  assert.equal(local.notify(0), 0, 'the local block has no waiters')
  const [result] = await waiting
  assert.equal(result.result, 'timed-out')
  assert.equal(global.notify(0), 0)
})

test('many waiters in two processes, all woken', async (t) => {
  const { child, memory, handle } = await shared(t)
  const theirs = child.call('waitAsyncMany', handle, 64, 0, 20000, 20)
  const mine = Array.from({ length: 20 }, () => memory.waitAsync(64, 0, 20000))
  await sleep(2 * SETTLE)
  assert.equal(memory.notify(64), 40)
  assert.deepEqual(await Promise.all(mine), Array(20).fill('ok'))
  assert.deepEqual(
    (await theirs).map((r) => r.result),
    Array(20).fill('ok'),
  )
  assert.ok(await eventually(() => memory.notify(64) === 0))
})
