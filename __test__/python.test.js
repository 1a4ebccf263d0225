'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const readline = require('node:readline')

const { SharedMemory, uniqueName, blockExists } = require('./helpers')

const python = process.platform === 'win32' ? 'python' : 'python3'
const probe = spawnSync(python, ['-c', 'import multiprocessing.shared_memory'])
const skip =
  probe.status !== 0
    ? `${python} with multiprocessing.shared_memory is not available here`
    : process.platform === 'win32' && 'CPython maps Windows blocks with a different size rule; tested on POSIX'

function startPeer(...args) {
  const child = spawn(python, [path.join(__dirname, 'fixtures', 'python_peer.py'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const exited = new Promise((resolve) => child.on('exit', resolve))
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
  exited.then(() => clearTimeout(timer))
  return { child, nextLine: async () => (await lines.next()).value, exited }
}

test('CPython attaches to a block created here', { skip }, async () => {
  const name = uniqueName()
  const host = new SharedMemory(name, 1024)
  host.data = 'hello from node'
  const peer = startPeer('attach', name)
  assert.equal(await peer.nextLine(), 'hello from node')
  assert.equal(await peer.exited, 0)
  assert.equal(host.data, 'hello from python')
  assert.equal(blockExists(name), true, 'CPython must not remove a block it attached to')
})

test('a block created by CPython is attached here', { skip }, async () => {
  const name = uniqueName()
  const peer = startPeer('create', name)
  assert.equal(await peer.nextLine(), 'ready')
  const client = new SharedMemory(name, 4096, false, false)
  assert.equal(client.data, 'hello from python host')
  client.data = 'hello from node client'
  peer.child.stdin.write('go\n')
  assert.equal(await peer.nextLine(), 'hello from node client')
  assert.equal(await peer.exited, 0)
  assert.equal(blockExists(name), false)
})
