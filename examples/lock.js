'use strict'

// Two processes update one record in a block, guarded by a lock: an account
// with a balance and a count of updates, written with plain (non-atomic)
// reads and writes. A third process is killed while it holds the lock, half
// way through an update: the next locker is told ('owner-died') and repairs
// the record from its journal before going on.
//
//   node examples/lock.js [updates per process]

const { fork } = require('node:child_process')
const SharedMemory = require('..')

const LOCK = 0 // the lock: SharedMemory.LOCK_SIZE bytes at offset 0
const BALANCE = 8 // Float64: the balance
const UPDATES = 16 // Uint32: how many updates were made
const JOURNAL = 24 // Float64: the balance before the update in progress (NaN: none)

/** Adds `amount` under the lock: the record is never seen half-written. */
function deposit(memory, amount, { dieHalfWay = false } = {}) {
  const view = memory.view
  if (memory.lock(LOCK) === 'owner-died') repair(memory)
  view.writeDoubleLE(view.readDoubleLE(BALANCE), JOURNAL) // what to go back to
  view.writeDoubleLE(view.readDoubleLE(BALANCE) + amount, BALANCE)
  if (dieHalfWay) process.kill(process.pid, 'SIGKILL') // the update count is not written yet
  view.writeUInt32LE(view.readUInt32LE(UPDATES) + 1, UPDATES)
  view.writeDoubleLE(NaN, JOURNAL)
  memory.unlock(LOCK)
}

/** The previous holder died during an update: undo the half of it that was written. */
function repair(memory) {
  const before = memory.view.readDoubleLE(JOURNAL)
  if (!Number.isNaN(before)) {
    console.log(`repairing: the balance goes back from ${memory.view.readDoubleLE(BALANCE)} to ${before}`)
    memory.view.writeDoubleLE(before, BALANCE)
    memory.view.writeDoubleLE(NaN, JOURNAL)
  }
}

async function main() {
  const updates = Number(process.argv[2] ?? 10000)
  const memory = new SharedMemory(SharedMemory.generateId(), { size: 64 })
  memory.view.writeDoubleLE(NaN, JOURNAL)
  const run = (...args) =>
    new Promise((resolve, reject) => {
      fork(__filename, ['--child', memory.name, ...args]).on('exit', (code, signal) => {
        if (code === 0 || signal === 'SIGKILL') resolve(signal)
        else reject(new Error(`a child failed with ${code ?? signal}`))
      })
    })
  // The crashing one first, so that the others meet its lock.
  console.log(`a process dies holding the lock: ${await run('crash')}`)
  await Promise.all([run('deposit', String(updates)), run('deposit', String(updates))])
  const balance = memory.view.readDoubleLE(BALANCE)
  const count = memory.view.readUInt32LE(UPDATES)
  console.log(`balance ${balance}, ${count} updates (expected ${2 * updates} of each)`)
  memory.close()
  if (balance !== 2 * updates || count !== 2 * updates) process.exit(1)
}

if (process.argv[2] === '--child') {
  const [, , , name, kind, count] = process.argv
  const memory = new SharedMemory(name, { create: false })
  if (kind === 'crash') deposit(memory, 1000, { dieHalfWay: true })
  for (let i = 0; i < Number(count); i++) deposit(memory, 1)
  memory.close()
} else {
  main()
}
