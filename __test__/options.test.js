'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { SharedMemory, uniqueName, runChild, thrown } = require('./helpers')

const isLinux = process.platform === 'linux'
const isWindows = process.platform === 'win32'

test('new SharedMemory(name, { size }) creates a block like the 1.x form', () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, { size: 100 })
  assert.equal(memory.size, 100)
  assert.equal(memory.host, true)
  assert.equal(memory.global, false)
  assert.equal(memory.readOnly, false)
  assert.equal(thrown(() => new SharedMemory(name, { size: 100 })).code, 'ERR_SHM_EXISTS')
  assert.equal(thrown(() => new SharedMemory(name, { size: 100, create: true })).code, 'ERR_SHM_EXISTS')
})

test('create: false without a size attaches to the whole block as the OS reports it', () => {
  const name = uniqueName()
  new SharedMemory(name, { size: 5000 }).data = 'sized by the OS'
  const client = new SharedMemory(name, { create: false })
  assert.equal(client.host, false)
  assert.equal(client.data, 'sized by the OS')
  if (isLinux) assert.equal(client.size, 5000) // exact on Linux
  else assert.ok(client.size >= 5000 && client.size % 4096 === 0) // page-rounded elsewhere
})

test('create: false with a size follows the 1.x rules', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, { size: 64 })
  assert.equal(new SharedMemory(name, { size: 10, create: false }).size, 10)
  assert.equal(thrown(() => new SharedMemory(name, { size: 65, create: false })).code, 'ERR_SHM_TOO_LARGE')
  assert.equal(thrown(() => new SharedMemory(uniqueName(), { create: false })).code, 'ERR_SHM_NOT_FOUND')
  assert.equal(host.size, 64)
})

test("create: 'if-missing' creates the block, then attaches to it", () => {
  const name = uniqueName()
  const first = new SharedMemory(name, { size: 32, create: 'if-missing' })
  const second = new SharedMemory(name, { size: 32, create: 'if-missing' })
  assert.equal(first.host, true)
  assert.equal(second.host, false)
  first.data = 'one block'
  assert.equal(second.data, 'one block')
  assert.equal(thrown(() => new SharedMemory(name, { size: 33, create: 'if-missing' })).code, 'ERR_SHM_TOO_LARGE')
})

test("processes racing with 'if-missing' agree on one creator", async () => {
  for (let round = 0; round < 5; round++) {
    const name = uniqueName(`race${round}`)
    const children = 4
    let ready = 0
    let opened = 0
    const runs = []
    const handles = []
    for (let i = 0; i < children; i++) {
      runs.push(
        runChild('if-missing.js', [name, String(i)], {
          onMessage: (message, child) => {
            if (message.ready) {
              handles.push(child)
              if (++ready === children) for (const c of handles) c.send('go')
            } else if ('host' in message) {
              if (++opened === children) for (const c of handles) c.send('report')
            }
          },
        }),
      )
    }
    const results = await Promise.all(runs)
    for (const { code } of results) assert.equal(code, 0)
    const reports = results.map(({ messages }) => messages.find((m) => 'host' in m))
    assert.equal(reports.filter((r) => r.host).length, 1, JSON.stringify(reports))
    // Every child wrote its mark into the one block it shares with the others.
    for (const { messages } of results) {
      assert.deepEqual(messages.find((m) => 'marks' in m), { marks: [1, 1, 1, 1] })
    }
    assert.equal(SharedMemory.exists(name), false, 'the creator removed the block when it closed it')
  }
})

test('mode sets exact permission bits, not reduced by the umask', { skip: !isLinux && 'reads the mode from /dev/shm' }, () => {
  const previous = process.umask(0o077)
  try {
    const plain = uniqueName()
    new SharedMemory(plain, { size: 8 })
    assert.equal(fs.statSync(path.join('/dev/shm', plain)).mode & 0o777, 0o600)
    const shared = uniqueName()
    new SharedMemory(shared, { size: 8, mode: 0o644 })
    assert.equal(fs.statSync(path.join('/dev/shm', shared)).mode & 0o777, 0o644)
    const legacy = uniqueName()
    new SharedMemory(legacy, 8)
    assert.equal(fs.statSync(path.join('/dev/shm', legacy)).mode & 0o777, 0o600)
  } finally {
    process.umask(previous)
  }
})

test('readOnly: true maps the block read-only and refuses every write', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, { size: 16 })
  host.data = 'original'
  const reader = new SharedMemory(name, { create: false, readOnly: true })
  assert.equal(reader.readOnly, true)
  assert.equal(reader.data, 'original')
  assert.deepEqual(reader.readBuffer(0, 8), Buffer.from('original'))
  const writes = [
    () => { reader.data = 'x' },
    () => { reader.buffer = Buffer.from('x') },
    () => reader.write('x'),
    () => reader.write(Buffer.from('x'), 2),
    () => reader.view,
  ]
  for (const write of writes) {
    const error = thrown(write)
    assert.equal(error.constructor, Error)
    assert.equal(error.code, 'ERR_SHM_READ_ONLY')
  }
  assert.equal(host.data, 'original')
  host.data = 'changed'
  assert.equal(reader.data, 'changed')
})

test('bad options are TypeErrors or RangeErrors, and create nothing', () => {
  const name = uniqueName()
  const cases = [
    [{}, TypeError, 'ERR_INVALID_ARG_TYPE'], // no size to create with
    [{ create: 'if-missing' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ size: '8' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ size: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ size: 8, create: 'always' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ size: 8, create: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ size: 8, global: 'yes' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ size: 8, mode: '600' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ size: 8, mode: 0o1000 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ size: 8, mode: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ size: 8, readOnly: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ size: 8, readOnly: true }, TypeError, 'ERR_INVALID_ARG_VALUE'], // a created block is writable
    [{ size: 8, readOnly: true, create: 'if-missing' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [options, errorClass, code] of cases) {
    const error = thrown(() => new SharedMemory(name, options))
    assert.equal(error.constructor, errorClass, `${JSON.stringify(options)}: ${error.message}`)
    assert.equal(error.code, code, `${JSON.stringify(options)}: ${error.message}`)
  }
  assert.equal(SharedMemory.exists(name), false)
})

test('an options getter that throws passes its error through', () => {
  const boom = new Error('boom')
  const options = { get size() { throw boom } }
  assert.equal(thrown(() => new SharedMemory(uniqueName(), options)), boom)
})

test('mode is ignored when attaching and on Windows', { skip: isWindows && 'Windows has no mode' }, () => {
  const name = uniqueName()
  new SharedMemory(name, { size: 8, mode: 0o600 })
  assert.equal(new SharedMemory(name, { create: false, mode: 0o777 }).size, 8)
})
