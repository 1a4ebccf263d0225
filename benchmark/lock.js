'use strict'

// The cross-process lock (npm run bench:lock; also part of npm run bench):
// - an uncontended lock + unlock pair, against a JS Atomics spin lock on the
//   same block, in interleaved batches;
// - a handoff: how long after an unlock a process waiting in lock() has the
//   lock, against how long after a notify a process waiting in wait() wakes
//   (one way each, timed with the monotonic clock both share), and against a
//   wait/notify round trip (benchmark/roundtrip.js), interleaved. Twice: with
//   the other process just arrived in the call (as in back-to-back round
//   trips, where the waiter is still watching the word), and long asleep;
// - how long a waiter blocked in lock() takes to learn that the holder was
//   killed (SIGKILL).
//
//   node benchmark/lock.js [--json file]

const fs = require('node:fs')
const { fork } = require('node:child_process')
const SharedMemory = require('..')
const roundtrip = require('./roundtrip.js')

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
const median = (values) => percentile([...values].sort((a, b) => a - b), 50)

/** ns per uncontended lock + unlock pair: ours, and a spin lock on an Int32 of the same block. */
function uncontended(batches = 30, pairs = 200000) {
  const memory = new SharedMemory(SharedMemory.generateId(), { size: 4096 })
  const words = new Int32Array(memory.view.buffer, memory.view.byteOffset, 1024)
  const ours = () => {
    for (let i = 0; i < pairs; i++) {
      memory.lock(64)
      memory.unlock(64)
    }
  }
  const spin = () => {
    for (let i = 0; i < pairs; i++) {
      while (Atomics.compareExchange(words, 32, 0, 1) !== 0);
      Atomics.store(words, 32, 0)
    }
  }
  const times = { ours: [], spin: [] }
  for (let b = 0; b < batches; b++) {
    for (const [kind, run] of [['ours', ours], ['spin', spin]]) {
      const started = process.hrtime.bigint()
      run()
      times[kind].push(Number(process.hrtime.bigint() - started) / pairs)
    }
  }
  memory.close()
  const result = { ours: median(times.ours.slice(3)), spin: median(times.spin.slice(3)) }
  return { ...result, ratio: result.ours / result.spin }
}

// The handoff's slots, as Int32 indices: the lock is at byte 0, the wait/notify word at byte 8.
const FLAG = 2
const ACK = 3
const GO = 4
const STOP = 5
const ENTERING = 6 // the round the other process is about to start waiting in
const WOKE_AT = 4 // BigInt64 index (byte 32): when the other process got the lock or woke

/** The other process of the handoff: takes the lock (or waits on FLAG) and says when it did. */
function partner(name, kind) {
  const memory = new SharedMemory(name, { create: false })
  const words = new Int32Array(memory.view.buffer, memory.view.byteOffset, 16)
  const times = new BigInt64Array(memory.view.buffer, memory.view.byteOffset, 8)
  const parent = process.ppid
  // Never outlive the measuring process (it may be killed mid-run): every wait is bounded.
  const orphaned = () => process.ppid !== parent
  process.send('ready')
  for (let n = 1; !orphaned(); n++) {
    Atomics.store(words, ENTERING, n)
    if (kind === 'lock') {
      const result = memory.lock(0, 1000) // asleep until the other process unlocks
      if (result !== 'acquired') break
      times[WOKE_AT] = process.hrtime.bigint()
      memory.unlock(0)
    } else {
      while (Atomics.load(words, FLAG) === 0 && !orphaned()) memory.wait(FLAG * 4, 0, 1000)
      times[WOKE_AT] = process.hrtime.bigint()
    }
    Atomics.store(words, ACK, n)
    memory.notify(ACK * 4)
    while (Atomics.load(words, GO) !== n && !orphaned()) memory.wait(GO * 4, n - 1, 1000)
    if (Atomics.load(words, STOP) === 1) break
  }
  memory.close()
  if (process.connected) process.disconnect()
}

const spinFor = (ns) => {
  const until = process.hrtime.bigint() + ns
  while (process.hrtime.bigint() < until);
}

/**
 * µs from one process freeing the lock (or notifying) until the other, waiting in lock() (or in
 * wait()), has it (or woke), measured with the monotonic clock both processes share. `asleep`:
 * the other process has waited 2 ms, so it sleeps in the kernel; else it has just entered the
 * call, as the other side of a back-to-back round trip has.
 */
async function handoff(kind, rounds, asleep) {
  const memory = new SharedMemory(SharedMemory.generateId(), { size: 64 })
  const words = new Int32Array(memory.view.buffer, memory.view.byteOffset, 16)
  const times = new BigInt64Array(memory.view.buffer, memory.view.byteOffset, 8)
  if (kind === 'lock') memory.lock(0)
  const child = fork(__filename, ['--partner', memory.name, kind])
  await new Promise((resolve) => child.once('message', resolve))
  const result = new Float64Array(rounds)
  for (let n = 1; n <= rounds; n++) {
    while (Atomics.load(words, ENTERING) !== n);
    // Asleep: long past the 50 µs it watches the word before it sleeps. Arriving: inside the call.
    spinFor(asleep ? 2000000n : 5000n)
    const started = process.hrtime.bigint()
    if (kind === 'lock') {
      memory.unlock(0)
    } else {
      Atomics.store(words, FLAG, 1)
      memory.notify(FLAG * 4)
    }
    while (Atomics.load(words, ACK) !== n) memory.wait(ACK * 4, n - 1)
    result[n - 1] = Number(times[WOKE_AT] - started) / 1000
    if (kind === 'lock') memory.lock(0)
    else Atomics.store(words, FLAG, 0)
    if (n === rounds) Atomics.store(words, STOP, 1)
    Atomics.store(words, GO, n)
    memory.notify(GO * 4)
  }
  await new Promise((resolve) => child.on('exit', resolve))
  memory.close()
  return Array.from(result).sort((a, b) => a - b)
}

/** ms from SIGKILL of the holder until a waiter blocked in lock() returns 'owner-died'. */
async function deathNoticed(samples) {
  const fixture = require.resolve('../__test__/fixtures/locker.js')
  const times = []
  for (let i = 0; i < samples; i++) {
    const memory = new SharedMemory(SharedMemory.generateId(), { size: 64 })
    const next = (child, test) => new Promise((resolve) => child.on('message', (m) => test(m) && resolve(m)))
    const holder = fork(fixture, [memory.name, 'hold', '0'])
    await next(holder, (m) => 'held' in m)
    const waiter = fork(fixture, [memory.name, 'wait', '0'])
    const result = next(waiter, (m) => 'result' in m)
    await next(waiter, (m) => m.ready)
    await new Promise((resolve) => setTimeout(resolve, 200)) // asleep in lock() by then
    const killedAt = Date.now()
    holder.kill('SIGKILL')
    const { at } = await result
    times.push(at - killedAt)
    await new Promise((resolve) => waiter.on('exit', resolve))
    memory.close()
  }
  return times.sort((a, b) => a - b)
}

async function run({ rounds = 1000, repeats = 2 } = {}) {
  const pair = uncontended()
  const handoffs = { arriving: { lock: [], wait: [] }, asleep: { lock: [], wait: [] } }
  const roundTrips = []
  for (let r = 0; r < repeats; r++) {
    for (const state of ['arriving', 'asleep']) {
      for (const kind of ['lock', 'wait']) {
        await handoff(kind, 50, state === 'asleep') // warm-up
        handoffs[state][kind].push(...(await handoff(kind, Math.ceil(rounds / repeats), state === 'asleep')))
      }
    }
    roundTrips.push((await roundtrip.run(rounds, 1, ['wait'])).wait.p50)
  }
  const summary = (times) => {
    times.sort((a, b) => a - b)
    return { p50: percentile(times, 50), p99: percentile(times, 99) }
  }
  const died = await deathNoticed(10)
  return {
    uncontended: pair,
    handoff: { arriving: summary(handoffs.arriving.lock), asleep: summary(handoffs.asleep.lock) },
    notify: { arriving: summary(handoffs.arriving.wait), asleep: summary(handoffs.asleep.wait) },
    waitNotifyRoundTrip: median(roundTrips),
    ownerDied: { p50: percentile(died, 50), max: died[died.length - 1] },
  }
}

function table(results) {
  const { uncontended: u, handoff: h, notify: w, waitNotifyRoundTrip: rt, ownerDied: d } = results
  const ratio = (a, b) => `${(a / b).toFixed(2)}×`
  return [
    '| measure | ours | baseline | ratio |',
    '|---|---:|---:|---:|',
    `| uncontended lock + unlock (ns) | ${u.ours.toFixed(1)} | ${u.spin.toFixed(1)} (JS Atomics spin lock) | ${ratio(u.ours, u.spin)} |`,
    `| handoff to a process just arrived in lock(), p50 (µs) | ${h.arriving.p50.toFixed(1)} | ${rt.toFixed(1)} (wait/notify round trip, benchmark/roundtrip.js) | ${ratio(h.arriving.p50, rt)} |`,
    `| the same handoff, p50 (µs) | ${h.arriving.p50.toFixed(1)} | ${w.arriving.p50.toFixed(1)} (notify to a process just arrived in wait()) | ${ratio(h.arriving.p50, w.arriving.p50)} |`,
    `| the same handoff, p99 (µs) | ${h.arriving.p99.toFixed(1)} | ${w.arriving.p99.toFixed(1)} | ${ratio(h.arriving.p99, w.arriving.p99)} |`,
    `| handoff to a process asleep in lock(), p50 (µs) | ${h.asleep.p50.toFixed(1)} | ${w.asleep.p50.toFixed(1)} (notify to a process asleep in wait()) | ${ratio(h.asleep.p50, w.asleep.p50)} |`,
    `| the same handoff, p99 (µs) | ${h.asleep.p99.toFixed(1)} | ${w.asleep.p99.toFixed(1)} | ${ratio(h.asleep.p99, w.asleep.p99)} |`,
    `| holder killed → waiter blocked in lock() gets 'owner-died' (ms), p50 / max of 10 | ${d.p50} / ${d.max} | | |`,
  ].join('\n')
}

if (process.argv[2] === '--partner') {
  partner(process.argv[3], process.argv[4])
} else if (require.main === module) {
  const jsonAt = process.argv.indexOf('--json')
  run().then((results) => {
    console.log(table(results))
    if (jsonAt > 0) fs.writeFileSync(process.argv[jsonAt + 1], JSON.stringify(results, null, 2) + '\n')
  })
}

module.exports = { run, table }
