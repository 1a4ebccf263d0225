'use strict'

// What pending receiveAsync calls cost while nothing arrives (npm run bench:idle): the CPU time a
// process spends, as a share of one core, with 1 and with 10,000 calls pending on one channel
// handle, each in a child process of its own, interleaved over rounds. Idle calls share one wait,
// and at the end of each 100 ms slice one of them looks at the ring for all
// (lib/channel.js, #sharedWaitOf): the cost should not grow with their number.
//
//   node benchmark/idle-waiters.js [rounds]

const { fork } = require('node:child_process')
const { median } = require('./harness')

const SECONDS = 2

if (process.argv[2] === '--child') {
  const { Channel } = require('..')
  const pending = Number(process.argv[3])
  const channel = new Channel(require('..').generateId(), { capacity: 1 << 16 })
  const calls = Array.from({ length: pending }, () => channel.receiveAsync().catch(() => {}))
  // Settled in: the calls have counted themselves waiting and share their wait.
  setTimeout(() => {
    const before = process.cpuUsage()
    const started = process.hrtime.bigint()
    setTimeout(() => {
      const used = process.cpuUsage(before)
      const wall = Number(process.hrtime.bigint() - started) / 1e3
      process.send({ share: (used.user + used.system) / wall }, () => {
        channel.close()
        Promise.allSettled(calls).then(() => process.exit(0))
      })
    }, SECONDS * 1000)
  }, 500)
} else {
  const rounds = Number(process.argv[2] ?? 3)
  const run = (pending) =>
    new Promise((resolve, reject) => {
      const child = fork(__filename, ['--child', String(pending)])
      child.once('message', (message) => resolve(message.share))
      child.once('error', reject)
    })
  ;(async () => {
    const shares = { 1: [], 10000: [] }
    for (let round = 0; round < rounds; round++) {
      for (const pending of [1, 10000]) shares[pending].push(await run(pending))
    }
    for (const pending of [1, 10000]) {
      console.log(`${String(pending).padStart(6)} pending receiveAsync: ${(median(shares[pending]) * 100).toFixed(1)} % of a core (median of ${rounds} rounds of ${SECONDS} s)`)
    }
    console.log(`ratio 10,000 / 1: ${(median(shares[10000]) / median(shares[1])).toFixed(2)}`)
  })()
}
