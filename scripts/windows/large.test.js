'use strict'

// Blocks over 4 GiB: CreateFileMappingW takes the size as two 32-bit halves,
// and 1.x dropped the high one. A pagefile-backed block of 4 GiB + 4 KiB
// commits that much memory on Windows; Wine backs it lazily. Where the memory
// is not there, creating it must fail with a clean error, never crash.

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName, open, sleep, thrown, Child } = require('./helpers')

const GiB4 = 2 ** 32
const BIG = GiB4 + 4096
const SETTLE = 500

/** Opens a new block of BIG bytes, or checks that the error says cleanly why not (then null). */
function createBig(t, name) {
  let memory
  try {
    memory = new SharedMemory(name, { size: BIG })
  } catch (error) {
    const clean =
      (error instanceof RangeError && error.code === 'ERR_OUT_OF_RANGE') ||
      (error.constructor === Error && ['ERR_SHM_NO_SPACE', 'ERR_SHM_OS'].includes(error.code))
    assert.ok(clean, `creating ${BIG} bytes failed with an unexpected error: ${error.stack}`)
    assert.match(error.message, new RegExp(`"${name}"`))
    t.diagnostic(`this machine cannot hold ${BIG} bytes: ${error.code}: ${error.message}`)
    return null
  }
  t.after(() => memory.close())
  return memory
}

test('a block of 4 GiB + 4 KiB: the full 64-bit size reaches Windows', async (t) => {
  const name = uniqueName('big')
  const host = createBig(t, name)
  if (host === null) return
  assert.equal(host.size, BIG)
  assert.ok(!Number.isNaN(host.size) && Number.isSafeInteger(host.size))

  // Another process sees the whole size: had the high half been lost, it
  // would see 4096 bytes.
  const child = await Child.start(t)
  const attached = await child.call('open', name, { create: false })
  assert.equal(attached.size, BIG)
  const sized = await child.call('open', name, { size: BIG, create: false })
  assert.equal(sized.size, BIG)
  await assert.rejects(child.call('open', name, { size: BIG + 1, create: false }), {
    code: 'ERR_SHM_TOO_LARGE',
    message: new RegExp(`has ${BIG} bytes, fewer than the ${BIG + 1}`),
  })

  // The addon's own copies reach every byte (no view involved).
  assert.deepEqual(host.readBuffer(GiB4, 16), Buffer.alloc(16))
  assert.deepEqual(host.readBuffer(BIG - 8, 8), Buffer.alloc(8))
  assert.equal(await child.call('readHex', attached.handle, BIG - 4, 4), '00000000')
  assert.equal(thrown(() => host.readBuffer(BIG - 8, 9)).code, 'ERR_OUT_OF_RANGE')
  assert.equal(thrown(() => host.read(BIG + 1)).code, 'ERR_OUT_OF_RANGE')
})

test('wait/notify: words 4 GiB apart do not share waiters', async (t) => {
  const name = uniqueName('big-wait')
  const host = createBig(t, name)
  if (host === null) return
  // The waiter on offset 0 registers first, so that a notify that confused
  // the two offsets would find it first.
  let low = 'pending'
  const lowWait = host.waitAsync(0, 0, 20000).then((result) => (low = result))
  await sleep(SETTLE)
  let high = 'pending'
  const highWait = host.waitAsync(GiB4, 0, 20000).then((result) => (high = result))
  await sleep(SETTLE)
  assert.equal(host.notify(GiB4, 1), 1)
  await Promise.race([highWait, sleep(5000)])
  assert.equal(high, 'ok', 'the waiter on offset 4 GiB woke')
  assert.equal(low, 'pending', 'the waiter on offset 0 still sleeps')
  assert.equal(host.notify(0), 1)
  await lowWait
  assert.equal(low, 'ok')

  // And across processes, on the last word of the block.
  const child = await Child.start(t)
  const { handle } = await child.call('open', name, { create: false })
  const waiting = child.call('wait', handle, BIG - 4, 0, 20000)
  let calls = 0
  while (host.notify(BIG - 4, 1) === 0) {
    assert.equal(host.notify(BIG - 4 - GiB4, 1), 0, 'nothing waits 4 GiB lower')
    calls += 1
    assert.ok(calls < 5000, 'the child never slept on the last word')
    await sleep(2)
  }
  assert.equal((await waiting).result, 'ok')
})

test('write, read and view past 4 GiB, in a process of its own', async (t) => {
  // Run in a child: a failure here must not take the rest of this file along.
  const child = await Child.start(t)
  const name = uniqueName('big-data')
  let created
  try {
    created = await child.call('open', name, { size: BIG })
  } catch (error) {
    assert.ok(['ERR_OUT_OF_RANGE', 'ERR_SHM_NO_SPACE', 'ERR_SHM_OS'].includes(error.code), error.message)
    t.diagnostic(`this machine cannot hold ${BIG} bytes: ${error.message}`)
    return
  }
  const { handle } = created
  // `view` is a Buffer over the whole block where the runtime allows Buffers
  // that large (Node 22 and later), and a clean error where it does not
  // (Node 20: at most 4 GiB); never a crash. (Node 20's
  // napi_create_external_buffer refuses such a length and runs the finalizer
  // at once: an addon that then frees the finalizer's data itself frees it
  // twice. index.js takes the view for write() and read(), so they go too.)
  const view = await child.call('viewLength', handle)
  if (view.error) {
    assert.ok(['ERR_OUT_OF_RANGE', 'ERR_BUFFER_TOO_LARGE', 'ERR_SHM_OS'].includes(view.error.code), JSON.stringify(view.error))
  } else {
    assert.equal(view.length, BIG)
  }
  // write() and read() work either way: through the view, or through the addon.
  await child.call('write', handle, 'far away', GiB4 + 8)
  assert.equal(await child.call('read', handle, GiB4 + 8), 'far away')
  await child.call('write', handle, 'end', BIG - 3)
  const client = open(t, name, { create: false })
  assert.equal(client.size, BIG)
  assert.equal(client.read(GiB4 + 8), 'far away')
  assert.equal(client.read(BIG - 3), 'end')
  assert.equal(client.read(8), '', 'the bytes 4 GiB lower are untouched')
})
