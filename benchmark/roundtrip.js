'use strict'

// Cross-process round trips with a 64-byte payload: two processes, one sends,
// the other echoes, and this process times each round trip. Compares
// wait/notify and waitAsync/notify on a block with a Unix domain socket and
// with child_process IPC, all in one run.
//
//   node benchmark/roundtrip.js [round trips] [--json file]

const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const { fork } = require('node:child_process')
const SharedMemory = require('..')

const PAYLOAD = 64
const TURN = 0 // Int32 index of the turn word: 0 = the sender's, 1 = the echoer's
const DATA = 64 // byte offset of the payload

/** The echoing side, in the child process. */
async function echo(kind, address) {
  if (kind === 'ipc') {
    process.on('message', (message) => (message === 'stop' ? process.disconnect() : process.send(message)))
    process.send('ready')
    return
  }
  if (kind === 'socket') {
    const socket = net.connect(address)
    socket.setNoDelay(true)
    socket.pipe(socket) // every byte straight back
    socket.on('end', () => socket.end())
    return
  }
  const memory = new SharedMemory(address, { create: false })
  const words = new Int32Array(memory.view.buffer)
  const buffer = Buffer.alloc(PAYLOAD)
  process.send('ready')
  for (;;) {
    while (Atomics.load(words, TURN) !== 1) {
      if (kind === 'wait') memory.wait(TURN * 4, 0, 1000)
      else await memory.waitAsync(TURN * 4, 0, 1000)
      if (Atomics.load(words, TURN) === 2) return memory.close()
    }
    memory.readInto(buffer, DATA)
    memory.write(buffer, DATA + PAYLOAD)
    Atomics.store(words, TURN, 0)
    memory.notify(TURN * 4)
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** Times `rounds` round trips of `kind`; returns the sorted times in µs. */
async function measure(kind, rounds) {
  const payload = Buffer.alloc(PAYLOAD, 0x61)
  const times = new Float64Array(rounds)
  if (kind === 'wait' || kind === 'waitAsync') {
    const memory = new SharedMemory(SharedMemory.generateId(), { size: 4096 })
    const words = new Int32Array(memory.view.buffer)
    const reply = Buffer.alloc(PAYLOAD)
    const child = fork(__filename, ['--echo', kind, memory.name])
    await new Promise((resolve) => child.once('message', resolve))
    for (let i = 0; i < rounds; i++) {
      const started = process.hrtime.bigint()
      memory.write(payload, DATA)
      Atomics.store(words, TURN, 1)
      memory.notify(TURN * 4)
      while (Atomics.load(words, TURN) !== 0) {
        if (kind === 'wait') memory.wait(TURN * 4, 1, 5000)
        else await memory.waitAsync(TURN * 4, 1, 5000)
      }
      memory.readInto(reply, DATA + PAYLOAD)
      times[i] = Number(process.hrtime.bigint() - started) / 1000
    }
    Atomics.store(words, TURN, 2)
    memory.notify(TURN * 4)
    await new Promise((resolve) => child.on('exit', resolve))
    memory.close()
  } else if (kind === 'socket') {
    const address = process.platform === 'win32' ? `\\\\.\\pipe\\shm-bench-${process.pid}` : path.join(os.tmpdir(), `shm-bench-${process.pid}.sock`)
    fs.rmSync(address, { force: true })
    const server = net.createServer()
    await new Promise((resolve) => server.listen(address, resolve))
    const child = fork(__filename, ['--echo', kind, address])
    const [socket] = await Promise.all([new Promise((resolve) => server.once('connection', resolve))])
    socket.setNoDelay(true)
    let received = 0
    let done
    socket.on('data', (chunk) => {
      received += chunk.length
      if (received >= PAYLOAD) {
        received -= PAYLOAD
        done()
      }
    })
    for (let i = 0; i < rounds; i++) {
      const started = process.hrtime.bigint()
      await new Promise((resolve) => {
        done = resolve
        socket.write(payload)
      })
      times[i] = Number(process.hrtime.bigint() - started) / 1000
    }
    socket.end()
    await new Promise((resolve) => child.on('exit', resolve))
    server.close()
  } else {
    const child = fork(__filename, ['--echo', kind, ''], { serialization: 'advanced' })
    await new Promise((resolve) => child.once('message', resolve))
    for (let i = 0; i < rounds; i++) {
      const started = process.hrtime.bigint()
      await new Promise((resolve) => {
        child.once('message', resolve)
        child.send(payload)
      })
      times[i] = Number(process.hrtime.bigint() - started) / 1000
    }
    child.send('stop')
    await new Promise((resolve) => child.on('exit', resolve))
  }
  return Array.from(times).sort((a, b) => a - b)
}

const KINDS = {
  wait: 'SharedMemory wait/notify',
  waitAsync: 'SharedMemory waitAsync/notify',
  socket: 'Unix domain socket',
  ipc: 'child_process IPC',
}

/** Runs every kind (or those named) `repeats` times, interleaved, and keeps all round trips of each. */
async function run(rounds, repeats = 2, kinds = Object.keys(KINDS)) {
  const results = {}
  for (let r = 0; r < repeats; r++) {
    for (const kind of kinds) {
      await measure(kind, Math.ceil(rounds / 10)) // warm-up
      const times = await measure(kind, Math.ceil(rounds / repeats))
      results[kind] = (results[kind] ?? []).concat(times)
    }
  }
  return Object.fromEntries(
    Object.entries(results).map(([kind, times]) => {
      times.sort((a, b) => a - b)
      return [kind, { name: KINDS[kind], roundTrips: times.length, p50: percentile(times, 50), p99: percentile(times, 99) }]
    }),
  )
}

function table(results) {
  const socket = results.socket.p50
  const lines = ['| transport (64-byte payload) | p50 µs | p99 µs | p50 vs socket |', '|---|---:|---:|---:|']
  for (const r of Object.values(results)) {
    lines.push(`| ${r.name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.p50 / socket).toFixed(2)}× |`)
  }
  return lines.join('\n')
}

if (process.argv[2] === '--echo') {
  echo(process.argv[3], process.argv[4])
} else if (require.main === module) {
  const rounds = Number(process.argv[2] ?? 10000)
  const jsonAt = process.argv.indexOf('--json')
  run(rounds).then((results) => {
    console.log(table(results))
    if (jsonAt > 0) fs.writeFileSync(process.argv[jsonAt + 1], JSON.stringify(results, null, 2) + '\n')
  })
}

module.exports = { run, table }
