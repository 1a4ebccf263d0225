'use strict'

// Two Windows processes on one block: attach by name, data and Atomics seen
// across them, Global\ blocks, and what happens to a name when its process
// ends.

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName, open, eventually, Child } = require('./helpers')

test('a second process attaches by name and shares the bytes both ways', async (t) => {
  const child = await Child.start(t)
  assert.notEqual(child.pid, process.pid)
  const name = uniqueName('share')
  const host = open(t, name, { size: 256 })
  host.write('from the parent')

  const attached = await child.call('open', name, { create: false })
  assert.equal(attached.host, false)
  assert.equal(attached.size, 4096, 'the whole pages')
  assert.equal(attached.id, name)
  assert.equal(await child.call('read', attached.handle), 'from the parent')

  await child.call('write', attached.handle, 'from the child', 100)
  assert.equal(host.read(100), 'from the child')

  // 1.x form in the child, with a size.
  const legacy = await child.call('open', name, 256, false, false)
  assert.equal(legacy.size, 256)
  assert.equal(await child.call('read', legacy.handle, 100), 'from the child')
})

test("view: bytes written through one process's view appear in the other's, without a copy", async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('view')
  const host = open(t, name, { size: 64 })
  const view = host.view // taken before the child writes: no re-read below
  const { handle } = await child.call('open', name, { create: false })
  assert.equal(await child.call('viewWrite', handle, 'zero-copy', 16), 9)
  assert.equal(view.toString('utf8', 16, 25), 'zero-copy')
  view.write('reply', 32)
  assert.equal(await child.call('read', handle, 32), 'reply')
})

test('Atomics on the views of two processes act on the same words', async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('atomics')
  const host = open(t, name, { size: 64 })
  const words = new Int32Array(host.view.buffer)
  const { handle } = await child.call('open', name, { create: false })

  Atomics.store(words, 3, 1234)
  assert.equal(await child.call('load', handle, 3), 1234)
  await child.call('store', handle, 4, -7)
  assert.equal(Atomics.load(words, 4), -7)

  // Both processes increment the same word at the same time: no update is lost.
  const times = 2000000
  const remote = child.call('addMany', handle, 5, times)
  // Start once the child has (the request goes out when the event loop runs).
  assert.ok(await eventually(() => Atomics.load(words, 5) > 0), 'the child increments')
  for (let i = 0; i < times; i++) Atomics.add(words, 5, 1)
  await remote
  assert.equal(Atomics.load(words, 5), 2 * times)
})

test("create: 'if-missing' in two processes: one creates, the other attaches", async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('either')
  const mine = open(t, name, { size: 64, create: 'if-missing' })
  const theirs = await child.call('open', name, { size: 64, create: 'if-missing' })
  assert.equal(mine.host, true)
  assert.equal(theirs.host, false)
  mine.write('one block')
  assert.equal(await child.call('read', theirs.handle), 'one block')
})

test('Global\\ blocks are shared across processes, and only in the Global namespace', async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('global')
  const host = open(t, name, { size: 64, global: true })
  host.write('global data')

  assert.equal(await child.call('exists', name, true), true)
  assert.equal(await child.call('exists', name, false), false)
  await assert.rejects(child.call('open', name, { create: false }), { code: 'ERR_SHM_NOT_FOUND' })

  const attached = await child.call('open', name, { create: false, global: true })
  assert.equal(attached.global, true)
  assert.equal(attached.id, `Global\\${name}`)
  assert.equal(await child.call('read', attached.handle), 'global data')

  // The child creates a local block of the same name: another block.
  const local = await child.call('open', name, { size: 64 })
  await child.call('write', local.handle, 'local data')
  assert.equal(host.read(), 'global data')
  assert.equal(open(t, name, { create: false }).read(), 'local data')
  assert.equal(open(t, name, { create: false, global: true }).read(), 'global data')
})

test('errors come back the same from another process', async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('errors')
  open(t, name, { size: 64 })
  await assert.rejects(child.call('open', name, { size: 64 }), { code: 'ERR_SHM_EXISTS' })
  await assert.rejects(child.call('open', name, { size: 4097, create: false }), { code: 'ERR_SHM_TOO_LARGE' })
  await assert.rejects(child.call('open', uniqueName('missing'), { create: false }), { code: 'ERR_SHM_NOT_FOUND' })
})

test('a host process that exits takes the name along; attached processes keep the memory', async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('exit')
  const created = await child.call('open', name, { size: 64 })
  assert.equal(created.host, true)
  await child.call('write', created.handle, 'made by the child')
  const client = open(t, name, { create: false })
  await child.kill()
  assert.ok(child.exitCode !== undefined)
  assert.equal(client.read(), 'made by the child', 'the attached process keeps the memory')
  assert.equal(SharedMemory.exists(name), true, 'and the name, while it holds a handle')
  client.close()
  assert.ok(await eventually(() => !SharedMemory.exists(name)), 'the name goes with the last handle')
})

test('a killed process cannot leave a name behind: Windows closes its handles', async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('killed')
  const global = uniqueName('killed-global')
  await child.call('open', name, { size: 64 })
  await child.call('open', global, { size: 64, global: true })
  assert.equal(SharedMemory.exists(name), true)
  assert.equal(SharedMemory.exists(global, true), true)
  await child.kill()
  assert.ok(await eventually(() => !SharedMemory.exists(name) && !SharedMemory.exists(global, true)))
})

test('a block closed in one process stays usable in the other', async (t) => {
  const child = await Child.start(t)
  const name = uniqueName('closed')
  const host = open(t, name, { size: 64 })
  const { handle } = await child.call('open', name, { create: false })
  host.close()
  assert.equal(SharedMemory.exists(name), true, 'the child still holds the name')
  await child.call('write', handle, 'still mapped')
  assert.equal(await child.call('read', handle), 'still mapped')
  await assert.rejects(child.call('open', name, { size: 64 }), { code: 'ERR_SHM_EXISTS' })
  await child.call('close', handle)
  assert.ok(await eventually(() => !SharedMemory.exists(name)))
})
