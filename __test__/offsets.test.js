'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName, thrown } = require('./helpers')

function block(size = 16) {
  const memory = new SharedMemory(uniqueName(), size)
  memory.view.fill(0x2e) // '.'
  return memory
}

test('write(string, offset) writes at the offset, with a NUL when it ends early', () => {
  const memory = block()
  memory.write('abc', 4)
  assert.equal(memory.view.toString('latin1'), '....abc\0........')
  memory.write('xyz', 13) // ends exactly at the end: no NUL
  assert.equal(memory.view.toString('latin1'), '....abc\0.....xyz')
})

test('write accepts a Buffer, any TypedArray, a DataView and an ArrayBuffer', () => {
  const memory = block()
  memory.write(Buffer.from('AB'), 0)
  memory.write(new Uint16Array([0x4443]), 2) // little-endian "CD"
  memory.write(new DataView(new Uint8Array([0x45, 0x46, 0x47]).buffer, 1, 2), 4) // "FG"
  memory.write(new Uint8Array([0x48, 0x49]).buffer, 6) // "HI"
  memory.write(new Float64Array([1]), 8)
  assert.equal(memory.view.toString('latin1', 0, 8), 'ABCDFGHI')
  assert.equal(memory.view.readDoubleLE(8), 1)
  const slice = Buffer.from('0123456789').subarray(3, 5)
  memory.write(slice, 0)
  assert.equal(memory.view.toString('latin1', 0, 2), '34')
})

test('writing the block into itself (an overlapping copy) moves the bytes correctly', () => {
  const memory = block()
  memory.write('abcdefgh', 0)
  memory.write(memory.view.subarray(0, 8), 4)
  assert.equal(memory.view.toString('latin1', 0, 12), 'abcdabcdefgh')
})

test('read(offset, length) stops at a NUL, after length bytes, or at the end', () => {
  const memory = block()
  memory.write('hello', 2)
  assert.equal(memory.read(2), 'hello')
  assert.equal(memory.read(2, 3), 'hel')
  assert.equal(memory.read(2, 10), 'hello')
  assert.equal(memory.read(8), '........')
  assert.equal(memory.read(16), '')
  assert.equal(memory.read(), '..hello')
})

test('readBuffer(offset, length) copies a part of the block', () => {
  const memory = block()
  memory.write('0123456789abcdef')
  assert.deepEqual(memory.readBuffer(4, 3), Buffer.from('456'))
  assert.deepEqual(memory.readBuffer(10), Buffer.from('abcdef'))
  assert.deepEqual(memory.readBuffer(16), Buffer.alloc(0))
  const copy = memory.readBuffer(0, 4)
  copy[0] = 0x21
  assert.equal(memory.view[0], 0x30)
})

test('readInto copies into the caller\'s memory and says how many bytes', () => {
  const memory = block()
  memory.write('0123456789abcdef')
  const target = Buffer.alloc(4)
  assert.equal(memory.readInto(target), 4)
  assert.equal(target.toString(), '0123')
  assert.equal(memory.readInto(target, 14), 2)
  assert.equal(target.toString(), 'ef23')
  const ints = new Uint32Array(2)
  assert.equal(memory.readInto(ints, 8), 8)
  assert.equal(Buffer.from(ints.buffer).toString(), '89abcdef')
  assert.equal(memory.readInto(new DataView(new ArrayBuffer(3)), 16), 0)
  assert.equal(memory.readInto(memory.view.subarray(8), 0), 8)
  assert.equal(memory.view.toString('latin1'), '0123456701234567')
})

test('offsets and lengths outside the block are RangeErrors, and nothing is written', () => {
  const memory = block(8)
  const before = memory.readBuffer()
  const bad = [-1, 9, 1.5, NaN, Infinity, -Infinity, 2 ** 53, Number.MAX_VALUE]
  for (const offset of bad) {
    for (const call of [
      () => memory.write('x', offset),
      () => memory.write(Buffer.from('x'), offset),
      () => memory.read(offset),
      () => memory.readBuffer(offset),
      () => memory.readInto(Buffer.alloc(1), offset),
    ]) {
      const error = thrown(call)
      assert.equal(error.constructor, RangeError, `offset ${offset}: ${error.message}`)
      assert.equal(error.code, 'ERR_OUT_OF_RANGE')
      // Our message, not the one Node's own Buffer checks would give: it names the block.
      assert.equal(
        error.message,
        offset === 9
          ? `offset 9 is outside shared memory block "${memory.name}" of 8 bytes`
          : `offset must be a non-negative safe integer, got ${offset}`,
      )
    }
  }
  for (const [offset, length] of [[0, 9], [4, 5], [8, 1], [0, -1], [0, 0.5], [0, NaN]]) {
    for (const call of [() => memory.read(offset, length), () => memory.readBuffer(offset, length)]) {
      const error = thrown(call)
      assert.equal(error.constructor, RangeError, `${offset}, ${length}: ${error.message}`)
      assert.equal(error.code, 'ERR_OUT_OF_RANGE')
      assert.equal(
        error.message,
        Number.isSafeInteger(length) && length >= 0
          ? `${length} bytes at offset ${offset} reach past the end of shared memory block "${memory.name}" of 8 bytes`
          : `length must be a non-negative safe integer, got ${length}`,
      )
    }
  }
  assert.deepEqual(memory.readBuffer(), before)
})

test('data that does not fit after the offset is ERR_SHM_TOO_LARGE, and nothing is written', () => {
  const memory = block(8)
  for (const [call, what, bytes, room] of [
    [() => memory.write('abcde', 4), 'string', 5, 4],
    [() => memory.write(Buffer.alloc(5), 4), 'data', 5, 4],
    [() => memory.write('€€', 3), 'string', 6, 5],
  ]) {
    const error = thrown(call)
    assert.equal(error.constructor, Error)
    assert.equal(error.code, 'ERR_SHM_TOO_LARGE')
    assert.equal(error.message, `${what} of ${bytes} bytes does not fit in shared memory block "${memory.name}" (${room} bytes available)`)
  }
  assert.equal(memory.view.toString('latin1'), '........')
})

test('offsets of the wrong type are TypeErrors', () => {
  const memory = block(8)
  for (const offset of ['1', null, {}, 1n, true]) {
    for (const call of [() => memory.write('x', offset), () => memory.read(offset), () => memory.readBuffer(0, offset), () => memory.readInto(Buffer.alloc(1), offset)]) {
      const error = thrown(call)
      assert.equal(error.constructor, TypeError)
      assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
    }
  }
  for (const target of [undefined, 'text', [1], {}, 5]) {
    assert.equal(thrown(() => memory.readInto(target)).code, 'ERR_INVALID_ARG_TYPE')
  }
  assert.equal(memory.view.toString('latin1'), '........')
})
