'use strict'

// The client half of `host.js`: attaches to the block the host created and
// waits for its signals.
const shared_memory = require('..')
const { STATE, MESSAGE, READY, READ, BUFFER_READY } = require('./protocol')

const id = process.argv[2]

// Attach the created memory
const memory = new shared_memory(id, 1024, false, false)
const state = new Int32Array(memory.view.buffer, 0, 1)

/** Sleeps (this process has nothing else to do) until the state is `wanted`. */
function waitFor(wanted) {
  for (let current; (current = Atomics.load(state, STATE)) !== wanted; ) {
    if (memory.wait(STATE * 4, current, 10000) === 'timed-out') throw new Error('the host went quiet')
  }
}

// Wait until the data is ready
waitFor(READY)

// Read the data
const read = memory.read(MESSAGE)
console.log(`client: attached to ${memory.id} and read "${read}"`)

// Signal the host that the data has been read
memory.write(`Thanks for "${read}"`, MESSAGE)
Atomics.store(state, STATE, READ)
memory.notify(STATE * 4)

// Wait until the next data is ready, and read it into a buffer
waitFor(BUFFER_READY)
const buf = memory.readBuffer(MESSAGE)
console.log(`client: read ${buf.length} bytes starting "${buf.subarray(0, buf.indexOf(0)).toString()}"`)
memory.close()
