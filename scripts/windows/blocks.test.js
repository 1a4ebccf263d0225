'use strict'

// One process: named file mappings created, attached, viewed, closed and
// unlinked, the Global\ namespace, and every error class, on Windows.

const test = require('node:test')
const assert = require('node:assert/strict')
const { setImmediate: turn } = require('node:timers/promises')

const { SharedMemory, uniqueName, open, thrown, eventually } = require('./helpers')

const PAGE = 4096

test('the module is the class, on win32 x64', () => {
  assert.equal(process.platform, 'win32')
  assert.equal(process.arch, 'x64')
  assert.equal(typeof SharedMemory, 'function')
  assert.equal(SharedMemory.SharedMemory, SharedMemory)
  assert.equal(SharedMemory.default, SharedMemory)
})

test('create: a zeroed block of the exact size, named as given', (t) => {
  const name = uniqueName('create')
  const memory = open(t, name, { size: 100 })
  assert.equal(memory.size, 100)
  assert.equal(memory.name, name)
  assert.equal(memory.id, name, 'a local block has no prefix on Windows')
  assert.equal(memory.host, true)
  assert.equal(memory.global, false)
  assert.equal(memory.closed, false)
  assert.deepEqual(memory.readBuffer(), Buffer.alloc(100))
  assert.equal(SharedMemory.exists(name), true)
  memory.write('hello')
  assert.equal(memory.read(), 'hello')
})

test('the 1.x constructor creates and attaches', (t) => {
  const name = uniqueName('legacy')
  const host = open(t, name, 64, false, true)
  const client = open(t, name, 64, false, false)
  assert.equal(host.host, true)
  assert.equal(client.host, false)
  host.data = 'from the host'
  assert.equal(client.data, 'from the host')
  client.buffer = Buffer.from('CLIENT')
  assert.equal(host.buffer.subarray(0, 6).toString(), 'CLIENT')
})

test('attaching without a size gives the size rounded up to whole pages', (t) => {
  for (const [size, rounded] of [
    [1, PAGE],
    [100, PAGE],
    [PAGE, PAGE],
    [PAGE + 1, 2 * PAGE],
    [65536, 65536],
    [3 * 65536 + 5, 3 * 65536 + PAGE],
  ]) {
    const name = uniqueName('round')
    open(t, name, { size })
    const client = open(t, name, { create: false })
    assert.equal(client.size, rounded, `a block of ${size} bytes`)
    assert.equal(client.host, false)
    // The rest of the last page is there and zeroed.
    assert.deepEqual(client.readBuffer(size), Buffer.alloc(rounded - size))
  }
})

test('attaching with a size uses that many bytes, up to the whole pages', (t) => {
  const name = uniqueName('attach-size')
  open(t, name, { size: 100 })
  assert.equal(open(t, name, { size: 50, create: false }).size, 50)
  assert.equal(open(t, name, 80, false, false).size, 80)
  assert.equal(open(t, name, { size: PAGE, create: false }).size, PAGE)
  const error = thrown(() => new SharedMemory(name, { size: PAGE + 1, create: false }))
  assert.equal(error.code, 'ERR_SHM_TOO_LARGE')
  assert.match(error.message, new RegExp(`"${name}" has ${PAGE} bytes, fewer than the ${PAGE + 1}`))
})

test("create: 'if-missing' creates once, then attaches", (t) => {
  const name = uniqueName('either')
  const first = open(t, name, { size: 64, create: 'if-missing' })
  const second = open(t, name, { size: 64, create: 'if-missing' })
  assert.equal(first.host, true)
  assert.equal(second.host, false)
  second.write('shared')
  assert.equal(first.read(), 'shared')
})

test('a read-only attach reads and refuses writes', (t) => {
  const name = uniqueName('ro')
  const host = open(t, name, { size: 64 })
  host.write('read me')
  const reader = open(t, name, { create: false, readOnly: true })
  assert.equal(reader.readOnly, true)
  assert.equal(reader.read(), 'read me')
  for (const write of [() => reader.write('x'), () => (reader.data = 'x'), () => reader.view]) {
    assert.equal(thrown(write).code, 'ERR_SHM_READ_ONLY')
  }
  assert.equal(host.read(), 'read me')
})

test('view: a zero-copy Buffer over the block, cached, one per object', (t) => {
  const name = uniqueName('view')
  const host = open(t, name, { size: 64 })
  const client = open(t, name, { create: false })
  const view = host.view
  assert.ok(Buffer.isBuffer(view))
  assert.equal(view.length, 64)
  assert.equal(view.buffer.byteLength, 64)
  assert.equal(host.view, view, 'cached')
  const clientView = client.view
  assert.equal(clientView.length, PAGE)
  assert.notEqual(clientView.buffer, view.buffer, 'each object maps the block itself')

  view.write('through the view', 8)
  assert.equal(client.read(8), 'through the view', 'no copy: the other mapping sees it')
  clientView.write('back', 40)
  assert.equal(view.toString('utf8', 40, 44), 'back', 'and the other way round')

  // Atomics on the view's ArrayBuffer act on the shared memory.
  const hostWords = new Int32Array(view.buffer)
  const clientWords = new Int32Array(clientView.buffer)
  assert.equal(Atomics.add(hostWords, 15, 5), 0)
  assert.equal(Atomics.load(clientWords, 15), 5)
  assert.equal(Atomics.compareExchange(clientWords, 15, 5, 9), 5)
  assert.equal(hostWords[15], 9)
})

test('close: idempotent, members throw ERR_SHM_CLOSED, an old view stays mapped until collected', async (t) => {
  const name = uniqueName('close')
  const memory = open(t, name, { size: 64, create: 'if-missing' })
  const view = memory.view
  const words = new Int32Array(view.buffer)
  words[0] = 42
  memory.close()
  memory.close()
  assert.equal(memory.closed, true)
  // Windows cannot swap private memory in under a mapped view: the view keeps the block's pages
  // (and shows them) until it is collected, and nothing is detached under work in flight.
  assert.equal(view.length, 64, 'the view keeps its length')
  assert.equal(words.length, 16, 'and so does every TypedArray over it')
  assert.equal(words[0], 42)
  // What describes the block stays readable.
  assert.equal(memory.name, name)
  assert.equal(memory.size, 64)
  assert.equal(memory.host, true)
  assert.equal(memory.id, name)
  assert.equal(memory.global, false)
  const members = {
    read: () => memory.read(),
    readBuffer: () => memory.readBuffer(),
    readInto: () => memory.readInto(Buffer.alloc(4)),
    write: () => memory.write('x'),
    data: () => memory.data,
    'data =': () => (memory.data = 'x'),
    buffer: () => memory.buffer,
    'buffer =': () => (memory.buffer = Buffer.from('x')),
    view: () => memory.view,
    wait: () => memory.wait(0, 0, 0),
    notify: () => memory.notify(0),
    unlink: () => memory.unlink(),
  }
  for (const [member, use] of Object.entries(members)) {
    const error = thrown(use)
    assert.equal(error.code, 'ERR_SHM_CLOSED', member)
    assert.match(error.message, new RegExp(`"${name}" is closed`), member)
  }
  await assert.rejects(memory.waitAsync(0, 0), { code: 'ERR_SHM_CLOSED' })
  // The host was the only one with a handle: the name is gone.
  assert.equal(SharedMemory.exists(name), false)
  const again = open(t, name, { size: 64 })
  assert.equal(again.host, true)
  assert.equal(again.read(), '', 'a new block, zeroed')
})

test('close: a host that used its view releases the name at once', (t) => {
  // index.js reads and writes through the view, so nearly every block has one.
  const name = uniqueName('reuse')
  for (let round = 0; round < 3; round++) {
    const memory = new SharedMemory(name, { size: 64 })
    t.after(() => memory.close())
    assert.equal(memory.read(), '', `round ${round}: a new, zeroed block`)
    memory.write(`round ${round}`)
    memory.close()
    assert.equal(SharedMemory.exists(name), false, `round ${round}: the name is gone after close()`)
  }
})

test('the name lives until the last handle closes', async (t) => {
  const name = uniqueName('last')
  const host = open(t, name, { size: 64 })
  const client = open(t, name, { create: false })
  host.write('still here')
  host.close()
  assert.equal(SharedMemory.exists(name), true, 'the client holds the name')
  const late = open(t, name, { create: false })
  assert.equal(late.read(), 'still here')
  assert.equal(thrown(() => new SharedMemory(name, { size: 64 })).code, 'ERR_SHM_EXISTS')
  late.close()
  client.close()
  // close() closed the last handles; Windows removes the name with the last
  // handle, while the views may stay mapped until they are collected.
  await turn()
  assert.ok(await eventually(() => !SharedMemory.exists(name)), 'the name goes with the last handle')
  assert.equal(thrown(() => new SharedMemory(name, { create: false })).code, 'ERR_SHM_NOT_FOUND')
})

test('unlink(): the object lets go of the name and keeps working', (t) => {
  const name = uniqueName('unlink')
  const host = open(t, name, { size: 64 })
  const client = open(t, name, { create: false })
  host.write('before')
  host.unlink()
  host.unlink()
  assert.equal(host.closed, false)
  assert.equal(SharedMemory.exists(name), true, 'the client still holds the name')
  host.write('after unlink')
  assert.equal(client.read(), 'after unlink', 'the memory is still shared')
  client.unlink()
  assert.equal(SharedMemory.exists(name), false, 'no one holds the name any more')
  assert.equal(thrown(() => new SharedMemory(name, { create: false })).code, 'ERR_SHM_NOT_FOUND')
  const newer = open(t, name, { size: 64 })
  assert.equal(newer.read(), '', 'a new block under the old name')
  newer.write('newer')
  assert.equal(host.read(), 'after unlink', 'the old block is another one')
  host.close()
  assert.equal(newer.read(), 'newer', 'closing the old host leaves the newer block alone')
  assert.equal(SharedMemory.exists(name), true)
})

test('SharedMemory.unlink(name) reports whether the name exists and cannot remove it', (t) => {
  const name = uniqueName('static-unlink')
  assert.equal(SharedMemory.unlink(name), false)
  const host = open(t, name, { size: 64 })
  host.write('kept')
  assert.equal(SharedMemory.unlink(name), true)
  assert.equal(SharedMemory.exists(name), true, 'Windows cannot remove a name another handle holds')
  assert.equal(open(t, name, { create: false }).read(), 'kept')
  assert.equal(SharedMemory.unlink(name, true), false, 'not in the Global namespace')
})

test('Global\\ names: their own namespace, not visible as local ones', (t) => {
  const name = uniqueName('global')
  const global = open(t, name, { size: 64, global: true })
  assert.equal(global.global, true)
  assert.equal(global.id, `Global\\${name}`)
  assert.equal(global.name, name)
  assert.equal(SharedMemory.exists(name, true), true)
  assert.equal(SharedMemory.exists(name), false, 'not a local block')
  assert.equal(SharedMemory.exists(name, false), false)
  assert.equal(thrown(() => new SharedMemory(name, { create: false })).code, 'ERR_SHM_NOT_FOUND')
  assert.equal(SharedMemory.unlink(name), false)

  // A local block of the same name is another block.
  const local = open(t, name, { size: 64 })
  global.write('global')
  local.write('local')
  assert.equal(global.read(), 'global')
  assert.equal(open(t, name, { create: false, global: true }).read(), 'global')
  assert.equal(open(t, name, 64, true, false).read(), 'global', '1.x: global = true, host = false')
  assert.equal(open(t, name, { create: false }).read(), 'local')
  assert.equal(thrown(() => new SharedMemory(name, 64, true)).code, 'ERR_SHM_EXISTS')

  const legacy = open(t, uniqueName('global-legacy'), 32, true)
  assert.equal(legacy.global, true)
  assert.equal(legacy.id, `Global\\${legacy.name}`)
})

test('generateId: fresh names in either namespace', (t) => {
  for (const global of [false, true]) {
    const id = SharedMemory.generateId(global)
    assert.match(id, /^[a-z2-7]{26}$/)
    assert.equal(SharedMemory.exists(id, global), false)
    const memory = open(t, id, { size: 16, global })
    assert.equal(memory.id, global ? `Global\\${id}` : id)
  }
  return SharedMemory.generateIdAsync(true).then((id) => assert.match(id, /^[a-z2-7]{26}$/))
})

test('names: up to 260 characters with the prefix; invalid ones are ERR_SHM_INVALID_NAME', (t) => {
  const long = (length) => {
    const name = uniqueName('long')
    return name + 'x'.repeat(length - name.length)
  }
  assert.equal(open(t, long(260), { size: 8 }).id.length, 260)
  assert.equal(open(t, long(253), { size: 8, global: true }).id.length, 260)
  const invalid = [
    ['', {}],
    ['a\\b', {}],
    ['a/b', {}],
    ['a\0b', {}],
    ['.', {}],
    ['..', {}],
    ['x'.repeat(261), {}],
    ['x'.repeat(254), { global: true }],
  ]
  for (const [name, options] of invalid) {
    const error = thrown(() => new SharedMemory(name, { size: 8, ...options }))
    assert.equal(error.constructor, Error, JSON.stringify(name))
    assert.equal(error.code, 'ERR_SHM_INVALID_NAME', JSON.stringify(name))
    assert.equal(thrown(() => SharedMemory.exists(name, options.global)).code, 'ERR_SHM_INVALID_NAME')
  }
})

test('errors: ERR_SHM_EXISTS, ERR_SHM_NOT_FOUND, ERR_SHM_TOO_LARGE carry the OS text', (t) => {
  const name = uniqueName('errors')
  const memory = open(t, name, { size: 16 })
  memory.write('keep')

  const exists = thrown(() => new SharedMemory(name, { size: 16 }))
  assert.equal(exists.constructor, Error)
  assert.equal(exists.code, 'ERR_SHM_EXISTS')
  assert.match(exists.message, new RegExp(`"${name}" already exists: .*\\(os error 183\\)`))
  assert.equal(memory.read(), 'keep', 'the existing block is untouched')

  const missing = uniqueName('missing')
  for (const attach of [
    () => new SharedMemory(missing, { create: false }),
    () => new SharedMemory(missing, 16, false, false),
    () => new SharedMemory(missing, { create: false, global: true }),
    () => new SharedMemory(missing, { create: false, readOnly: true }),
  ]) {
    const notFound = thrown(attach)
    assert.equal(notFound.constructor, Error)
    assert.equal(notFound.code, 'ERR_SHM_NOT_FOUND')
    assert.match(notFound.message, /\(os error 2\)/)
  }

  const tooLarge = thrown(() => memory.write('x'.repeat(17)))
  assert.equal(tooLarge.code, 'ERR_SHM_TOO_LARGE')
  assert.equal(thrown(() => memory.write(Buffer.alloc(8), 9)).code, 'ERR_SHM_TOO_LARGE')
  assert.equal(thrown(() => (memory.buffer = Buffer.alloc(17))).code, 'ERR_SHM_TOO_LARGE')
  assert.equal(memory.read(), 'keep', 'nothing was written')
})

test('errors: TypeError and RangeError with Node codes', (t) => {
  const name = uniqueName('args')
  const typeErrors = [
    () => new SharedMemory(5, 16),
    () => new SharedMemory(name, 16, 'yes'),
    () => new SharedMemory(name, 16, false, 1),
    () => new SharedMemory(name, { size: 16, global: 'yes' }),
    () => SharedMemory.exists(name, 'yes'),
    () => SharedMemory.generateId('yes'),
  ]
  for (const fn of typeErrors) {
    const error = thrown(fn)
    assert.ok(error instanceof TypeError, `${fn}: ${error}`)
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE', String(fn))
  }
  for (const size of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    const error = thrown(() => new SharedMemory(name, size))
    assert.ok(error instanceof RangeError, `size ${size}: ${error}`)
    assert.equal(error.code, 'ERR_OUT_OF_RANGE', `size ${size}`)
  }
  for (const options of [{ size: 16, create: 'always' }, { size: 16, readOnly: true }]) {
    const error = thrown(() => new SharedMemory(name, options))
    assert.ok(error instanceof TypeError)
    assert.equal(error.code, 'ERR_INVALID_ARG_VALUE')
  }
  assert.equal(SharedMemory.exists(name), false, 'no failed call created the block')

  const memory = open(t, name, { size: 16 })
  const dataError = thrown(() => (memory.data = 5))
  assert.ok(dataError instanceof TypeError)
  assert.equal(dataError.code, 'ERR_INVALID_ARG_TYPE')
  for (const fn of [() => memory.read(17), () => memory.readBuffer(-1), () => memory.wait(2, 0, 0), () => memory.notify(16)]) {
    const error = thrown(fn)
    assert.ok(error instanceof RangeError, `${fn}: ${error}`)
    assert.equal(error.code, 'ERR_OUT_OF_RANGE')
  }
})

test('sizes: a block of 64 MiB + 1 byte, with its last byte in reach', (t) => {
  const size = 64 * 1024 * 1024 + 1
  const name = uniqueName('mid')
  const host = open(t, name, { size })
  assert.equal(host.size, size)
  host.write('z', size - 1)
  const client = open(t, name, { create: false })
  assert.equal(client.size, size + PAGE - 1)
  assert.equal(client.read(size - 1, 1), 'z')
  assert.equal(thrown(() => host.write('zz', size - 1)).code, 'ERR_SHM_TOO_LARGE')
})
