'use strict'

// The 1.x README example, made runnable and signalling for real: this process
// is the host; it starts `client.js` as a second process, which attaches to the
// same block. They take turns through a state word at the start of the block,
// changed with Atomics and announced with notify/wait.
//
//   npm run example

const path = require('node:path')
const { fork } = require('node:child_process')
const shared_memory = require('..')
const { STATE, MESSAGE, READY, READ, BUFFER_READY } = require('./protocol')

async function main() {
  // Generate a memory id
  const id = shared_memory.generateId()

  // Create a new shared memory block with a size of 1024 bytes
  const memory = new shared_memory(id, 1024, false, true)
  const state = new Int32Array(memory.view.buffer, 0, 1)
  const client = fork(path.join(__dirname, 'client.js'), [id])

  // Write data to the memory
  memory.write('Some data', MESSAGE)
  console.log(`host:   created ${memory.id} and wrote "${memory.read(MESSAGE)}"`)

  // Signal the client that the data is ready
  Atomics.store(state, STATE, READY)
  memory.notify(STATE * 4)

  // Wait until the client has read all the data (without blocking the event loop)
  while (Atomics.load(state, STATE) !== READ) {
    if ((await memory.waitAsync(STATE * 4, READY, 10000)) === 'timed-out') throw new Error('no answer')
  }
  console.log(`host:   the client answered "${memory.read(MESSAGE)}"`)

  // Write some new data in form of a buffer, and signal the client
  memory.write(Buffer.from('Some binary data\0'), MESSAGE)
  Atomics.store(state, STATE, BUFFER_READY)
  memory.notify(STATE * 4)

  const [code] = await new Promise((resolve) => client.on('exit', (...args) => resolve(args)))
  memory.close()
  console.log(`host:   the client exited with code ${code}; block closed and removed`)
  process.exitCode = code
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
