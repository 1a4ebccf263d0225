'use strict'

// One data path: a member gives the same result whichever way it is called
// and whatever the block (writable, read-only, attached), and pooled copies
// are independent of each other.

const test = require('node:test')
const assert = require('node:assert/strict')
const { MessageChannel } = require('node:worker_threads')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { SharedMemory, uniqueName } = require('./helpers')

/** A block holding `text`, a writable attach and a read-only attach to it. */
function threeWays(t, size, text) {
  const name = uniqueName('paths')
  const host = new SharedMemory(name, { size })
  host.write(text)
  const attached = new SharedMemory(name, { create: false })
  const reader = new SharedMemory(name, { create: false, readOnly: true })
  t.after(() => [reader, attached, host].forEach((memory) => memory.close()))
  return [host, attached, reader]
}

const POOLED_LIMIT = 4096

/** Whether `buffer` is a slice of a larger pool, as small copies are. */
const isPoolSlice = (buffer) => buffer.buffer.byteLength > buffer.length

for (const size of [16, POOLED_LIMIT, POOLED_LIMIT + 1, 100000]) {
  test(`readBuffer, buffer, read and data agree on every form of the call and every kind of block (${size} bytes)`, (t) => {
    const text = 'héllo wörld'
    const expected = Buffer.alloc(size)
    expected.write(text)
    for (const memory of threeWays(t, size, text)) {
      const copies = [memory.readBuffer(), memory.readBuffer(0), memory.readBuffer(0, size), memory.buffer]
      for (const copy of copies) {
        assert.ok(Buffer.isBuffer(copy))
        assert.deepEqual(copy, expected)
        assert.equal(isPoolSlice(copy), size <= POOLED_LIMIT, `pooling rule for ${size} bytes (readOnly: ${memory.readOnly})`)
      }
      assert.deepEqual([memory.data, memory.read(), memory.read(0), memory.read(0, size)], [text, text, text, text])
      assert.equal(memory.read(1, 4), 'éll')
      assert.deepEqual(memory.readBuffer(2, 3), expected.subarray(2, 5))
    }
  })
}

test('readBuffer returns copies: changing the block afterwards leaves them as they were', () => {
  const memory = new SharedMemory(uniqueName('copies'), { size: 64 })
  memory.write('first')
  const small = memory.readBuffer(0, 5)
  const whole = memory.readBuffer()
  const again = memory.readBuffer(0, 5)
  memory.write('XXXXX')
  assert.equal(small.toString(), 'first')
  assert.equal(whole.toString('utf8', 0, 5), 'first')
  assert.equal(again.toString(), 'first', 'a later pooled read did not overwrite an earlier one')
  small.fill(0x41)
  assert.equal(memory.read(0, 5), 'XXXXX', 'writing to a copy does not reach the block')
  memory.close()
})

test('successive small reads each get bytes of their own from the pool', () => {
  const memory = new SharedMemory(uniqueName('pool'), { size: 8 })
  const reads = []
  for (let i = 0; i < 100; i++) {
    memory.view.writeUInt32LE(i, 0)
    reads.push(memory.readBuffer(0, 4))
  }
  assert.deepEqual(
    reads.map((b) => b.readUInt32LE(0)),
    Array.from({ length: 100 }, (_, i) => i),
  )
  memory.close()
})

test('a 0-byte copy as the first copy a process makes is an empty Buffer', () => {
  // The pool is made on first use; a fresh process shows whether a 0-byte first copy finds it.
  const script = `
    const SharedMemory = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const memory = new SharedMemory(process.argv[1], { size: 8 })
    const empty = memory.readBuffer(8)
    const next = memory.readBuffer(0, 2)
    memory.close()
    console.log(JSON.stringify([Buffer.isBuffer(empty), empty.length, next.length]))`
  const output = execFileSync(process.execPath, ['-e', script, uniqueName('first-copy')], { encoding: 'utf8' })
  assert.deepEqual(JSON.parse(output), [true, 0, 2])
})

test('transferring a pooled copy leaves every other copy and every later read intact', { timeout: 10000 }, async () => {
  const memory = new SharedMemory(uniqueName('transfer'), { size: 32 })
  memory.write('abcdefgh')
  const keep = memory.readBuffer(0, 8)
  const cloned = memory.readBuffer(0, 8)
  assert.ok(isPoolSlice(keep) && keep.buffer === cloned.buffer, 'both come from one pool')
  // An untransferable ArrayBuffer is copied by Node 20 and refused (DataCloneError) from Node 21
  // on: either way, as for the pool of Node's own Buffer.allocUnsafe, nothing is detached.
  const transfer = (send) => {
    try {
      send()
      return 'copied'
    } catch (error) {
      assert.equal(error.name, 'DataCloneError')
      return 'refused'
    }
  }
  const nodePooled = Buffer.allocUnsafe(8)
  const asNodeDoes = transfer(() => structuredClone(nodePooled.buffer, { transfer: [nodePooled.buffer] }))
  assert.equal(transfer(() => structuredClone(cloned.buffer, { transfer: [cloned.buffer] })), asNodeDoes)
  assert.equal(keep.length, 8, 'structuredClone did not empty the other copy')
  assert.equal(keep.toString(), 'abcdefgh')
  assert.equal(cloned.toString(), 'abcdefgh', 'the pool was not detached')

  const posted = memory.readBuffer(0, 8)
  const { port1, port2 } = new MessageChannel()
  try {
    const received = new Promise((resolve) => port2.once('message', resolve))
    assert.equal(transfer(() => port1.postMessage(posted, [posted.buffer])), asNodeDoes)
    if (asNodeDoes === 'copied') {
      const message = await received
      assert.equal(Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString(), 'abcdefgh')
    }
  } finally {
    port1.close() // an open port would keep this test file from ending
  }
  assert.equal(keep.toString(), 'abcdefgh', 'postMessage did not empty the other copy')
  assert.equal(posted.toString(), 'abcdefgh')
  assert.equal(memory.readBuffer(0, 4).toString(), 'abcd', 'later small reads still work')
  memory.close()
})

test('strings of every length round-trip through write/read and data', () => {
  const memory = new SharedMemory(uniqueName('strings'), { size: 700000 })
  for (const length of [0, 1, 1023, 1024, 1025, 4096, 65535, 65536, 65537, 200000]) {
    const text = 'ab€'.repeat(Math.ceil(length / 3)).slice(0, length)
    memory.data = text
    assert.equal(memory.data, text, `data of ${length} characters`)
    memory.write(text, 7)
    assert.equal(memory.read(7), text, `read of ${length} characters`)
    assert.equal(memory.read(7, Buffer.byteLength(text)), text)
  }
  memory.close()
})

test('a string that exactly fills the rest of the block is written without a NUL; a shorter one ends with one', () => {
  const memory = new SharedMemory(uniqueName('nul'), { size: 8 })
  memory.view.fill(0x7a)
  memory.write('abc', 5)
  assert.deepEqual([...memory.view], [0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x61, 0x62, 0x63])
  memory.write('ab', 5)
  assert.deepEqual([...memory.view.subarray(5)], [0x61, 0x62, 0])
  memory.close()
})

test('a frozen or sealed object works like any other', () => {
  for (const seal of [Object.freeze, Object.seal, Object.preventExtensions]) {
    const memory = seal(new SharedMemory(uniqueName('frozen'), { size: 16 }))
    memory.write('kept')
    assert.equal(memory.data, 'kept')
    assert.equal(memory.view.length, 16)
    assert.equal(memory.readBuffer(0, 4).toString(), 'kept')
    memory.close()
    assert.throws(() => memory.data, { code: 'ERR_SHM_CLOSED' })
  }
})

test('the descriptive properties are plain reads on the prototype, the same before and after close()', () => {
  const name = uniqueName('describe')
  const memory = new SharedMemory(name, { size: 100 })
  const before = { size: memory.size, name: memory.name, host: memory.host, global: memory.global, id: memory.id }
  assert.deepEqual(before, { size: 100, name, host: true, global: false, id: process.platform === 'win32' ? name : `/${name}` })
  assert.equal(memory.closed, false)
  memory.close()
  assert.equal(memory.closed, true)
  assert.deepEqual({ size: memory.size, name: memory.name, host: memory.host, global: memory.global, id: memory.id }, before)
})

test('a detached buffer, or a view that its resizable buffer shrank past, holds 0 bytes: nothing copied, no engine error', () => {
  const memory = new SharedMemory(uniqueName('detached'), { size: 16 })
  memory.write('abcd')
  const detach = (buffer) => structuredClone(buffer, { transfer: [buffer] })
  const detachedBuffer = new ArrayBuffer(8)
  const detachedBytes = new Uint8Array(new ArrayBuffer(8))
  const detachedView = new DataView(new ArrayBuffer(8))
  const detachedWords = new Uint16Array(new ArrayBuffer(8))
  for (const value of [detachedBuffer, detachedBytes, detachedView, detachedWords]) detach(value.buffer ?? value)
  for (const value of [detachedBuffer, detachedBytes, detachedView, detachedWords]) {
    memory.write(value, 2)
    memory.buffer = value
  }
  assert.equal(memory.read(0, 4), 'abcd', 'nothing was written')
  for (const target of [detachedBytes, detachedView, detachedWords]) assert.equal(memory.readInto(target), 0)
  if (typeof ArrayBuffer.prototype.resize === 'function') {
    const resizable = new ArrayBuffer(8, { maxByteLength: 16 })
    const view = new Uint16Array(resizable, 4, 2)
    resizable.resize(2) // the view is out of bounds now
    memory.write(view, 0)
    assert.equal(memory.readInto(view), 0)
    assert.equal(memory.read(0, 4), 'abcd')
  }
  memory.close()
})
