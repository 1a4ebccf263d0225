'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName, thrown } = require('./helpers')

test('a new block has the properties it was created with and starts zeroed', () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 1024, false, true)
  assert.equal(memory.size, 1024)
  assert.equal(memory.name, name)
  assert.equal(memory.host, true)
  assert.equal(memory.global, false)
  assert.equal(memory.id, process.platform === 'win32' ? name : `/${name}`)
  assert.deepEqual(memory.buffer, Buffer.alloc(1024))
  assert.equal(memory.data, '')
})

test('global and host default to false and true', () => {
  const memory = new SharedMemory(uniqueName(), 4)
  assert.equal(memory.global, false)
  assert.equal(memory.host, true)
})

test('the properties are read-only', () => {
  const memory = new SharedMemory(uniqueName(), 4)
  for (const property of ['size', 'name', 'host', 'global', 'id']) {
    const before = memory[property]
    assert.throws(() => {
      'use strict'
      memory[property] = 'changed'
    }, TypeError)
    assert.equal(memory[property], before)
  }
})

test('an attached block sees what the host writes, and the other way round', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 64)
  const client = new SharedMemory(name, 64, false, false)
  assert.equal(client.host, false)
  assert.equal(client.size, 64)
  host.data = 'from the host'
  assert.equal(client.data, 'from the host')
  client.write('from the client')
  assert.equal(host.read(), 'from the client')
})

test('a client may attach to fewer bytes than the block has', () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 100)
  host.buffer = Buffer.alloc(100, 7)
  const client = new SharedMemory(name, 10, false, false)
  assert.equal(client.size, 10)
  assert.deepEqual(client.buffer, Buffer.alloc(10, 7))
})

test('data = s writes the UTF-8 bytes and a NUL, leaving the rest', () => {
  const memory = new SharedMemory(uniqueName(), 16)
  memory.buffer = Buffer.alloc(16, 0x41)
  memory.data = 'héllo'
  assert.deepEqual(memory.buffer, Buffer.concat([Buffer.from('héllo\0'), Buffer.alloc(9, 0x41)]))
  assert.equal(memory.data, 'héllo')
  assert.equal(memory.read(), 'héllo')
})

test('write(s) follows the same NUL rule as data = s', () => {
  const memory = new SharedMemory(uniqueName(), 8)
  memory.buffer = Buffer.alloc(8, 0x42)
  memory.write('abc')
  assert.deepEqual(memory.buffer, Buffer.from('abc\0BBBB'))
  memory.write('')
  assert.deepEqual(memory.buffer, Buffer.from('\0bc\0BBBB'))
  assert.equal(memory.data, '')
})

test('a string exactly as long as the block fills it, without a NUL', () => {
  const memory = new SharedMemory(uniqueName(), 6)
  memory.data = 'ab€c' // 1 + 1 + 3 + 1 bytes
  assert.deepEqual(memory.buffer, Buffer.from('ab€c'))
  assert.equal(memory.data, 'ab€c')
})

test('reading never goes past the end of the block when there is no NUL', () => {
  const memory = new SharedMemory(uniqueName(), 5)
  memory.buffer = Buffer.from('12345')
  assert.equal(memory.data, '12345')
  assert.equal(memory.read().length, 5)
})

test('multi-byte characters round-trip', () => {
  const memory = new SharedMemory(uniqueName(), 64)
  const text = 'Grüße, 世界! 🎉 Ω'
  memory.data = text
  assert.equal(memory.data, text)
  assert.equal(memory.buffer.indexOf(0), Buffer.byteLength(text))
})

test('invalid UTF-8 in the block reads as U+FFFD, as TextDecoder does', () => {
  const memory = new SharedMemory(uniqueName(), 16)
  const bytes = Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82, 0x63, 0xf0, 0x9f, 0x98, 0x00])
  memory.buffer = bytes
  const expected = new TextDecoder().decode(bytes.subarray(0, 9))
  assert.equal(memory.data, expected)
  assert.ok(memory.data.includes('\uFFFD'))
})

test('a string with a lone surrogate is written as U+FFFD', () => {
  const memory = new SharedMemory(uniqueName(), 8)
  memory.data = 'a\uD800b'
  assert.deepEqual(memory.readBuffer().subarray(0, 6), Buffer.from([0x61, 0xef, 0xbf, 0xbd, 0x62, 0]))
})

test('buffer = b and write(b) copy the bytes without a NUL', () => {
  const memory = new SharedMemory(uniqueName(), 8)
  memory.data = 'zzzzzzz'
  memory.buffer = Buffer.from('abc')
  assert.deepEqual(memory.buffer, Buffer.from('abczzzz\0'))
  memory.write(Buffer.from([1, 2]))
  assert.deepEqual(memory.readBuffer(), Buffer.from('\x01\x02czzzz\0'))
  memory.buffer = Buffer.alloc(8, 9)
  assert.deepEqual(memory.readBuffer(), Buffer.alloc(8, 9))
})

test('buffer and readBuffer return a fresh copy each time', () => {
  const memory = new SharedMemory(uniqueName(), 4)
  const first = memory.buffer
  first[0] = 1
  assert.equal(memory.readBuffer()[0], 0)
  assert.notEqual(memory.buffer, memory.buffer)
  assert.ok(Buffer.isBuffer(memory.readBuffer()))
})

test('data too large for the block is refused and the block is unchanged', () => {
  const memory = new SharedMemory(uniqueName('big'), 4)
  memory.buffer = Buffer.from('keep')
  for (const write of [
    () => { memory.data = 'abcde' },
    () => memory.write('abcde'),
    () => memory.write('ab€'), // 5 bytes in UTF-8
    () => { memory.buffer = Buffer.alloc(5) },
    () => memory.write(Buffer.alloc(5)),
  ]) {
    const error = thrown(write)
    assert.equal(error.constructor, Error)
    assert.equal(error.code, 'ERR_SHM_TOO_LARGE')
    assert.match(error.message, /"t-big-/)
    assert.deepEqual(memory.buffer, Buffer.from('keep'))
  }
})

test('the data setter wants a string and the buffer setter binary data', () => {
  const memory = new SharedMemory(uniqueName(), 4)
  for (const bad of [5, null, undefined, {}, Buffer.from('x'), true]) {
    const error = thrown(() => { memory.data = bad })
    assert.ok(error instanceof TypeError, `data = ${String(bad)}`)
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
  }
  for (const bad of [5, null, undefined, {}, 'text', [1, 2]]) {
    const error = thrown(() => { memory.buffer = bad })
    assert.ok(error instanceof TypeError, `buffer = ${String(bad)}`)
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
  }
  for (const bad of [5, null, undefined, {}, [1, 2]]) {
    const error = thrown(() => memory.write(bad))
    assert.ok(error instanceof TypeError, `write(${String(bad)})`)
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
  }
  assert.deepEqual(memory.buffer, Buffer.alloc(4))
})
