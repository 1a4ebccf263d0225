'use strict'

// The client half of `host.js`: attaches to the block the host created.
const shared_memory = require('..')

const id = process.argv[2]

// Attach the created memory
const memory = new shared_memory(id, 1024, false, false)

// The data is ready when the host starts us: read it
const read = memory.data
console.log(`client: attached to ${memory.id} and read "${read}"`)
memory.data = `Thanks for "${read}"`

// Signal the host that the data has been read
process.send('read')

// Wait until the next data is ready
process.on('message', () => {
  // Read the data into a buffer: it holds the whole memory block.
  const buf = memory.buffer
  console.log(`client: read a ${buf.length}-byte buffer starting "${buf.subarray(0, buf.indexOf(0)).toString()}"`)
  process.send('done')
  process.disconnect()
})
