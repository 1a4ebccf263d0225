'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')

const { SharedMemory, uniqueName, runChild, thrown } = require('./helpers')

test('close() is idempotent and sets closed', () => {
  const memory = new SharedMemory(uniqueName(), 8)
  assert.equal(memory.closed, false)
  memory.close()
  assert.equal(memory.closed, true)
  memory.close()
  assert.equal(memory.closed, true)
})

test("a host's close() removes the block's name; a client's does not", () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 8)
  const client = new SharedMemory(name, 8, false, false)
  client.close()
  assert.equal(SharedMemory.exists(name), true)
  host.close()
  assert.equal(SharedMemory.exists(name), false)
})

test('every member that touches the block throws ERR_SHM_CLOSED after close()', () => {
  const memory = new SharedMemory(uniqueName(), 8)
  memory.close()
  const uses = {
    'get data': () => memory.data,
    'set data': () => { memory.data = 'x' },
    'get buffer': () => memory.buffer,
    'set buffer': () => { memory.buffer = Buffer.alloc(1) },
    view: () => memory.view,
    write: () => memory.write('x'),
    read: () => memory.read(),
    readBuffer: () => memory.readBuffer(),
    readInto: () => memory.readInto(Buffer.alloc(1)),
    unlink: () => memory.unlink(),
  }
  for (const [member, use] of Object.entries(uses)) {
    const error = thrown(use)
    assert.equal(error.code, 'ERR_SHM_CLOSED', `${member}: ${error.message}`)
    assert.match(error.message, /is closed/)
  }
})

test('the properties that describe the block stay readable after close()', () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 8)
  memory.close()
  assert.deepEqual([memory.name, memory.size, memory.host, memory.global, memory.id.endsWith(name)], [name, 8, true, false, true])
})

test('[Symbol.dispose]() closes the block', () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 8)
  memory[Symbol.dispose]()
  assert.equal(memory.closed, true)
  assert.equal(SharedMemory.exists(name), false)
})

let usingSyntax = true
try {
  new Function('{ using x = null }')
} catch {
  usingSyntax = false
}
test('`using` closes the block at the end of the scope', { skip: !usingSyntax && `this Node (${process.version}) has no \`using\` syntax` }, () => {
  const name = uniqueName()
  const run = new Function('SharedMemory', 'name', '{ using memory = new SharedMemory(name, 8); memory.data = "x"; return memory }')
  const memory = run(SharedMemory, name)
  assert.equal(memory.closed, true)
  assert.equal(SharedMemory.exists(name), false)
})

test('unlink() removes the name now; attached processes keep working', async () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 64)
  const client = new SharedMemory(name, 64, false, false)
  host.unlink()
  assert.equal(SharedMemory.exists(name), false)
  assert.equal(thrown(() => new SharedMemory(name, 64, false, false)).code, 'ERR_SHM_NOT_FOUND')
  host.data = 'after unlink'
  assert.equal(client.data, 'after unlink')
  host.unlink() // already gone: nothing to do
  // The name is free for a new block, which the old host's close() must leave alone.
  const newer = new SharedMemory(name, 8)
  host.close()
  client.close()
  assert.equal(SharedMemory.exists(name), true)
  newer.close()
  assert.equal(SharedMemory.exists(name), false)
})

test('a host collected after its name was taken by a newer block leaves the newer one alone', () => {
  const name = uniqueName()
  const old = new SharedMemory(name, 8)
  assert.equal(SharedMemory.unlink(name), true)
  const newer = new SharedMemory(name, 8)
  newer.data = 'newer'
  old.close()
  assert.equal(new SharedMemory(name, 8, false, false).data, 'newer')
})

test('SharedMemory.unlink(name) removes a leftover block and says whether there was one', async () => {
  const name = uniqueName()
  const { signal } = await runChild('leave-behind.js', [name])
  assert.equal(signal, 'SIGKILL')
  assert.equal(SharedMemory.exists(name), true)
  assert.equal(thrown(() => new SharedMemory(name, 8)).code, 'ERR_SHM_EXISTS')
  assert.equal(SharedMemory.unlink(name), true)
  assert.equal(SharedMemory.unlink(name), false)
  assert.equal(SharedMemory.exists(name), false)
  new SharedMemory(name, 8).close()
})

test('the static unlink and exists check their arguments', () => {
  for (const call of [() => SharedMemory.unlink('a/b'), () => SharedMemory.exists('')]) {
    assert.equal(thrown(call).code, 'ERR_SHM_INVALID_NAME')
  }
  for (const call of [() => SharedMemory.unlink(5), () => SharedMemory.exists(null), () => SharedMemory.exists('x', 'no')]) {
    const error = thrown(call)
    assert.ok(error instanceof TypeError)
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
  }
})

function runWorker(script, workerData) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'fixtures', script), { workerData })
    const messages = []
    worker.on('message', (message) => messages.push(message))
    worker.on('error', reject)
    worker.on('exit', (code) => resolve({ code, messages }))
  })
}

test('a block created in a worker thread works and is released when the worker exits', async () => {
  const name = uniqueName()
  const { code, messages } = await runWorker('worker.js', { name })
  assert.equal(code, 0)
  assert.deepEqual(messages, [{ data: 'from the worker', exists: true }])
  assert.equal(SharedMemory.exists(name), false)
})

test('a worker attached to a block of the main thread shares its memory', async () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 64)
  host.data = 'from main'
  const { code, messages } = await runWorker('worker.js', { name, attach: true })
  assert.equal(code, 0)
  assert.deepEqual(messages, [{ data: 'from main' }])
  assert.equal(host.data, 'worker was here')
})
