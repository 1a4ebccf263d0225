'use strict'

// The 1.x README example, made runnable: this process is the host, and it
// starts `client.js` as a second process that attaches to the same block.
// The two signal each other with process messages.
//
//   npm run example

const path = require('node:path')
const { fork } = require('node:child_process')
const shared_memory = require('..')

// Generate a memory id
const id = shared_memory.generateId()

// Create a new shared memory block with a size of 1024 bytes
const memory = new shared_memory(id, 1024, false, true)

// Write data to the memory
memory.data = 'Some data'
console.log(`host:   created block ${memory.id} (${memory.size} bytes) and wrote "${memory.data}"`)

// Signal the client that the data is ready
const client = fork(path.join(__dirname, 'client.js'), [id])
const timeout = setTimeout(() => {
  console.error('host:   the client did not answer in time')
  client.kill()
  process.exit(1)
}, 10000)

client.on('message', (message) => {
  if (message === 'read') {
    // The client has read all the data: write some new data in form of a buffer
    console.log(`host:   the client answered "${memory.data}"`)
    memory.buffer = Buffer.from('Some binary data\0')
    // Signal the client that the data is ready
    client.send('buffer ready')
  } else if (message === 'done') {
    clearTimeout(timeout)
    console.log('host:   done; the block is removed when this process exits')
  }
})
client.on('exit', (code) => {
  process.exitCode = code
})
