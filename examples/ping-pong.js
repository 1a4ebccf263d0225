'use strict'

// Two processes bounce a counter back and forth through one block: each waits
// for its turn with wait(), writes, and notifies the other.
//
//   node examples/ping-pong.js [round trips]

const { fork } = require('node:child_process')
const SharedMemory = require('..')

const TURN = 0 // Int32 index: whose turn it is, 0 = ping, 1 = pong
const COUNT = 1 // Int32 index: the ball
const PING = 0
const PONG = 1

/** Plays `rounds` times: waits for `me`'s turn, hits the ball, passes the turn. */
function play(memory, me, rounds) {
  const words = new Int32Array(memory.view.buffer)
  const other = me === PING ? PONG : PING
  for (let i = 0; i < rounds; i++) {
    while (Atomics.load(words, TURN) !== me) {
      if (memory.wait(TURN * 4, other, 5000) === 'timed-out') throw new Error('the other side went quiet')
    }
    Atomics.add(words, COUNT, 1)
    Atomics.store(words, TURN, other)
    memory.notify(TURN * 4)
  }
}

if (process.argv[2] === '--pong') {
  const [name, rounds] = process.argv.slice(3)
  const memory = new SharedMemory(name, { create: false })
  process.send('ready')
  play(memory, PONG, Number(rounds))
  memory.close()
} else {
  const rounds = Number(process.argv[2] ?? 10000)
  const memory = new SharedMemory(SharedMemory.generateId(), { size: 64 })
  const pong = fork(__filename, ['--pong', memory.name, String(rounds)])
  pong.once('message', () => {
    const started = process.hrtime.bigint()
    play(memory, PING, rounds)
    const elapsed = Number(process.hrtime.bigint() - started) / 1000
    const count = Atomics.load(new Int32Array(memory.view.buffer), COUNT)
    console.log(`${rounds} round trips between two processes, ${(elapsed / rounds).toFixed(1)} µs each; the ball was hit ${count} times`)
    pong.on('exit', (code) => {
      memory.close()
      process.exitCode = code || (count === 2 * rounds ? 0 : 1)
    })
  })
}
