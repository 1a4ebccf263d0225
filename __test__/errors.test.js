'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const util = require('node:util')

const { SharedMemory, uniqueName, blockExists, runChild, thrown } = require('./helpers')

const isLinux = process.platform === 'linux'
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

function expectError(fn, errorClass, code, message) {
  const error = thrown(fn)
  assert.equal(error.constructor, errorClass, `${error.constructor.name}: ${error.message}`)
  assert.equal(error.code, code, error.message)
  if (message) assert.match(error.message, message)
  return error
}

test('creating a block that exists fails with ERR_SHM_EXISTS and names it', () => {
  const name = uniqueName()
  const first = new SharedMemory(name, 8)
  first.data = 'mine'
  expectError(() => new SharedMemory(name, 8), Error, 'ERR_SHM_EXISTS', new RegExp(`shared memory block "${name}" already exists`))
  assert.equal(first.data, 'mine')
})

test('attaching to a missing block fails with ERR_SHM_NOT_FOUND', () => {
  const name = uniqueName()
  expectError(() => new SharedMemory(name, 8, false, false), Error, 'ERR_SHM_NOT_FOUND', new RegExp(`"${name}" does not exist`))
})

test('attaching with a size larger than the block fails with ERR_SHM_TOO_LARGE', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 4096)
  expectError(() => new SharedMemory(name, 4097, false, false), Error, 'ERR_SHM_TOO_LARGE', /4097/)
  assert.equal(host.size, 4096)
})

test('unusable names fail with ERR_SHM_INVALID_NAME, saying why', () => {
  const tooLong = process.platform === 'darwin' ? 31 : 300
  const why = {
    '': 'a name must not be empty',
    'a/b': "a name must not contain '/'",
    '/abs': "a name must not contain '/'",
    '../x': "a name must not contain '/'",
    'a\\b': "a name must not contain '\\'",
    'nul\0byte': 'a name must not contain NUL',
    '.': "'.' and '..' are not block names",
    '..': "'.' and '..' are not block names",
    ['x'.repeat(tooLong)]: /^a name may have at most \d+ bytes on this platform$/,
  }
  for (const [name, reason] of Object.entries(why)) {
    for (const create of [() => new SharedMemory(name, 8), () => new SharedMemory(name, 8, false, false)]) {
      const error = expectError(create, Error, 'ERR_SHM_INVALID_NAME', /^invalid shared memory block name "/)
      const said = error.message.slice(error.message.indexOf('": ') + 3)
      if (typeof reason === 'string') assert.equal(said, reason)
      else assert.match(said, reason)
    }
  }
})

test('the second argument: arrays and binary data are not options, and messages show the number given', () => {
  const notOptions = [[], Buffer.alloc(2), new Int8Array(2), new Int16Array(2), new Uint16Array(2), new Int32Array(1), new Float32Array(2), new Float64Array(1), new BigInt64Array(1), new DataView(new ArrayBuffer(2)), new ArrayBuffer(2)]
  for (const value of notOptions) {
    expectError(() => new SharedMemory(uniqueName(), value), TypeError, 'ERR_INVALID_ARG_TYPE', /^sizeInBytes must be a number, got an object$/)
  }
  expectError(() => new SharedMemory(uniqueName(), {}), TypeError, 'ERR_INVALID_ARG_TYPE', /^options\.size must be a number to create a block/)
  // As JavaScript shows numbers, but for -0, whose sign is what is wrong.
  const numbers = [[-0, '-0'], [0, '0'], [1.5, '1.5'], [-3, '-3'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [2 ** 53, '9007199254740992'], [1e21, '1e+21'], [-1.5e300, '-1.5e+300'], [1e-7, '1e-7'], [-2.5e-7, '-2.5e-7'], [1e-6 + 1, '1.000001']]
  for (const [size, shown] of numbers) {
    const error = thrown(() => new SharedMemory(uniqueName(), size))
    assert.ok(error instanceof RangeError, shown)
    assert.equal(error.code, 'ERR_OUT_OF_RANGE')
    assert.equal(error.message, `sizeInBytes must be a positive safe integer, got ${shown}`)
  }
  // The exponent switch itself: 1e21 - 131072 is the largest number below 1e21, and 1e-6 the
  // smallest shown without an exponent.
  assert.equal(thrown(() => new SharedMemory(uniqueName(), 1e21 - 131072)).message, 'sizeInBytes must be a positive safe integer, got 999999999999999900000')
  assert.equal(thrown(() => new SharedMemory(uniqueName(), 1e-6)).message, 'sizeInBytes must be a positive safe integer, got 0.000001')
})

test('names with dots, dashes, spaces and non-ASCII characters are fine', () => {
  for (const tag of ['a.b', 'x-y_z', 'with space', 'ünï', '...']) {
    const name = uniqueName(tag)
    const memory = new SharedMemory(name, 16)
    memory.data = tag
    assert.equal(new SharedMemory(name, 16, false, false).data, tag)
  }
})

test('wrong argument types are TypeErrors with ERR_INVALID_ARG_TYPE', () => {
  const name = uniqueName()
  const cases = [
    [undefined, 8],
    [null, 8],
    [42, 8],
    [{}, 8],
    [name, undefined],
    [name, null],
    [name, '8'],
    [name, 8n],
    [name, {}],
    [name, 8, 'yes'],
    [name, 8, 1],
    [name, 8, null],
    [name, 8, false, 'no'],
    [name, 8, false, 0],
  ]
  for (const args of cases) {
    expectError(() => new SharedMemory(...args), TypeError, 'ERR_INVALID_ARG_TYPE')
  }
  assert.equal(blockExists(name), false)
})

test('sizes that are not positive safe integers are RangeErrors with ERR_OUT_OF_RANGE', () => {
  const name = uniqueName()
  for (const size of [0, -0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, Number.MAX_VALUE]) {
    expectError(() => new SharedMemory(name, size), RangeError, 'ERR_OUT_OF_RANGE', /sizeInBytes/)
    expectError(() => new SharedMemory(name, size, false, false), RangeError, 'ERR_OUT_OF_RANGE')
  }
  assert.equal(blockExists(name), false)
})

test('a size beyond what the system can hold fails cleanly and leaves nothing behind', () => {
  // 2^46 bytes (64 TiB) fit the address space of a 64-bit process but no machine's memory.
  const name = uniqueName()
  const error = thrown(() => new SharedMemory(name, 2 ** 46))
  assert.ok(['ERR_SHM_NO_SPACE', 'ERR_OUT_OF_RANGE', 'ERR_SHM_OS'].includes(error.code), `${error.code}: ${error.message}`)
  assert.match(error.message, new RegExp(`"${name}"`))
  assert.equal(blockExists(name), false)
})

test('a block another user owns with mode 0600 fails with ERR_SHM_ACCESS', async (t) => {
  const name = uniqueName()
  const host = new SharedMemory(name, 8)
  if (isRoot) {
    // root may open anything: try as the unprivileged user `nobody` in a child process.
    const { code, messages } = await runChild('attach-as-nobody.js', [name])
    assert.equal(code, 0)
    assert.deepEqual(messages, [{ code: 'ERR_SHM_ACCESS', exists: true }], 'a block nobody may open still exists for nobody')
  } else if (isLinux) {
    fs.chmodSync(path.join('/dev/shm', name), 0)
    expectError(() => new SharedMemory(name, 8, false, false), Error, 'ERR_SHM_ACCESS', /no permission/)
  } else {
    t.skip('needs root, or Linux to change the mode of a block')
  }
  assert.equal(host.size, 8)
})

test('a symlink planted in /dev/shm is never followed (ERR_SHM_NOT_A_BLOCK)', { skip: !isLinux && 'POSIX shm names are paths in /dev/shm only on Linux' }, () => {
  const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shm-')), 'secret')
  fs.writeFileSync(target, 'do not touch')
  const name = uniqueName()
  fs.symlinkSync(target, path.join('/dev/shm', name))
  try {
    expectError(() => new SharedMemory(name, 4, false, false), Error, 'ERR_SHM_NOT_A_BLOCK', /the name is taken by a symbolic link, not a shared memory block/)
    expectError(() => new SharedMemory(name, 4), Error, 'ERR_SHM_EXISTS')
    assert.equal(fs.readFileSync(target, 'utf8'), 'do not touch')
  } finally {
    fs.rmSync(path.dirname(target), { recursive: true, force: true })
  }
})

test('each wrong type says what was expected and what came', async () => {
  const memory = new SharedMemory(uniqueName(), 64)
  const cases = [
    [() => (memory.data = 5), 'data must be a string, got type number (5)'],
    [() => (memory.buffer = 'x'), "buffer must be a Buffer, got type string ('x')"],
    [() => memory.write(5), 'data must be a string, Buffer, TypedArray, DataView or ArrayBuffer, got type number (5)'],
    [() => memory.readInto('x'), "target must be a Buffer, TypedArray or DataView, got type string ('x')"],
    [() => memory.read('1'), "offset must be a number, got type string ('1')"],
    [() => memory.wait(0, 1n), 'expected must be a number, got type bigint (1n)'],
    [() => memory.lock(0, '1'), "timeoutMs must be a number, got type string ('1')"],
  ]
  for (const [call, message] of cases) {
    const error = thrown(call)
    assert.equal(error.name, 'TypeError', message)
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
    assert.equal(error.message.replace(/, got .*/, ''), message.replace(/, got .*/, ''))
  }
  for (const promise of [memory.waitAsync(0, 0, 10, {}), memory.lockAsync(0, 10, {})]) {
    await assert.rejects(promise, (error) => error.code === 'ERR_INVALID_ARG_TYPE' && /^signal must be an AbortSignal, got /.test(error.message))
  }
  memory.close()
})

test('util.inspect shows the name, size, role and state', () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 64)
  assert.equal(util.inspect(memory), `SharedMemory { name: '${name}', size: 64, host: true, closed: false }`)
  memory.close()
  assert.equal(util.inspect(memory), `SharedMemory { name: '${name}', size: 64, host: true, closed: true }`)
})

test('JSON.stringify lists what 1.x objects carried as properties: size, name, host, global, id', () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 64)
  const attached = new SharedMemory(name, 64, false, false)
  const id = process.platform === 'win32' ? name : `/${name}`
  assert.equal(JSON.stringify(memory), `{"size":64,"name":"${name}","host":true,"global":false,"id":"${id}"}`)
  assert.deepEqual(JSON.parse(JSON.stringify({ attached })), { attached: { size: 64, name, host: false, global: false, id } })
  memory.close()
  assert.equal(JSON.stringify(memory), `{"size":64,"name":"${name}","host":true,"global":false,"id":"${id}"}`, 'after close() too')
  attached.close()
  assert.throws(() => SharedMemory.prototype.toJSON.call({}), { code: 'ERR_INVALID_THIS' })
})

test('Symbol.dispose closes, and can be replaced like any method', { skip: typeof Symbol.dispose !== 'symbol' && 'no Symbol.dispose in this Node' }, () => {
  const descriptor = Object.getOwnPropertyDescriptor(SharedMemory.prototype, Symbol.dispose)
  assert.deepEqual({ writable: descriptor.writable, enumerable: descriptor.enumerable, configurable: descriptor.configurable }, { writable: true, enumerable: false, configurable: true })
  const memory = new SharedMemory(uniqueName(), 64)
  memory[Symbol.dispose]()
  assert.equal(memory.closed, true)
})

test('the JS layer names every type it got, as the addon does', () => {
  const memory = new SharedMemory(uniqueName(), 64)
  const got = [
    [null, 'null'],
    [undefined, 'undefined'],
    [{}, 'an object'],
    [true, 'a boolean'],
    [5, 'a number'],
    [Symbol('s'), 'a symbol'],
    [() => {}, 'a function'],
    [5n, 'a bigint'],
  ]
  for (const [value, shown] of got) {
    const error = thrown(() => (memory.data = value))
    assert.equal(error.message, `data must be a string, got ${shown}`)
    if (typeof value !== 'boolean' && value !== undefined) {
      // The addon's own check of the same kind says the same.
      assert.equal(thrown(() => SharedMemory.generateId(value)).message, `global must be a boolean, got ${shown}`)
    }
  }
  memory.close()
})

test('codes are plain own properties, as on Node’s errors', () => {
  const memory = new SharedMemory(uniqueName(), 64)
  memory.close()
  for (const error of [thrown(() => memory.read()), thrown(() => (memory.data = 5)), thrown(() => SharedMemory.prototype.read.call({}))]) {
    assert.deepEqual(Object.getOwnPropertyDescriptor(error, 'code'), { value: error.code, writable: true, enumerable: true, configurable: true })
  }
  const error = thrown(() => SharedMemory.prototype.read.call({}))
  assert.equal(error.name, 'TypeError')
  assert.equal(error.message, 'Value of "this" must be of type SharedMemory')
})

test('an aborted call rejects with an AbortError carrying the reason, like Node’s', async () => {
  const memory = new SharedMemory(uniqueName(), 64)
  const controller = new AbortController()
  const reason = new Error('why')
  controller.abort(reason)
  for (const call of [() => memory.waitAsync(0, 0, 1000, controller.signal), () => memory.lockAsync(8, 1000, controller.signal)]) {
    const error = await call().then(
      () => assert.fail('resolved'),
      (e) => e,
    )
    assert.equal(error.name, 'AbortError')
    assert.equal(error.code, 'ABORT_ERR')
    assert.equal(error.message, 'The operation was aborted')
    assert.equal(error.cause, reason)
  }
  memory.close()
})

test('writes to a block opened read-only fail with ERR_SHM_READ_ONLY, naming the block', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 64)
  const reader = new SharedMemory(name, { create: false, readOnly: true })
  for (const call of [() => reader.write('x'), () => (reader.data = 'x'), () => (reader.buffer = Buffer.from('x')), () => reader.view]) {
    const error = thrown(call)
    assert.equal(error.code, 'ERR_SHM_READ_ONLY')
    assert.equal(error.message, `shared memory block "${name}" was opened read-only`)
  }
  reader.close()
  host.close()
})
