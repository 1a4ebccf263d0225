'use strict'

// The message channel against the other ways Node processes talk, in one run
// (npm run bench:channel): one sender process (this one), one receiver process,
// at 64 B, 4 KiB, 64 KiB and 4 MiB messages.
// - channel: send / receive (a copy per message, a Buffer of its own), blocking;
// - channel, for await: sendAsync / for await;
// - channel, in place: send / receiveInPlace + release (no copy on receive);
// - Unix domain socket (node:net), each message a 4-byte length and the bytes,
//   the receiver cutting the stream into messages (a subarray, or a copy where
//   a message spans two chunks);
// - child_process IPC ('advanced' serialization, so Buffers go as bytes).
// Each repeat runs every transport once, in turn, so a slow moment of the
// machine falls on all of them. Then a request/response round trip (a channel
// each way, 64 B) against the raw wait/notify round trip (benchmark/roundtrip.js).
//
//   node benchmark/channel.js [--quick] [--sizes 64,4096] [--json file] [--svg file] [--report file]

const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { Channel, SharedMemory } = require('..')
const roundtrip = require('./roundtrip.js')

const sizesAt = process.argv.indexOf('--sizes')
const SIZES = sizesAt > 0 ? process.argv[sizesAt + 1].split(',').map(Number) : [64, 4096, 65536, 4 * 1024 * 1024]
const TRANSPORTS = {
  channel: 'channel, send / receive',
  channelAsync: 'channel, sendAsync / for await',
  channelInPlace: 'channel, receiveInPlace',
  socket: 'Unix domain socket',
  ipc: 'child_process IPC',
}
const quick = process.argv.includes('--quick')

/**
 * How many messages of `size` one measurement sends: 512 MiB, at most 2,000,000 messages, at
 * least 64 (an eighth with --quick). Small messages need many: the first hundred thousand run
 * before the JIT has compiled the loops.
 */
function countFor(size) {
  const scale = quick ? 8 : 1
  return Math.max(Math.floor(64 / scale), Math.min(2000000 / scale, Math.ceil(2 ** 29 / scale / size)))
}

/** A channel's capacity for `size`: room for several messages in flight. */
const capacityFor = (size) => Math.max(1 << 20, 4 * size)

// ---- the receiving side, in the child ----

async function receiveAll(kind, address, count) {
  let received = 0
  let bytes = 0
  if (kind.startsWith('channel')) {
    const channel = new Channel(address, { create: false })
    process.send('ready')
    if (kind === 'channel') {
      for (let message; (message = channel.receive()) !== undefined; ) {
        bytes += message.length
        received++
      }
    } else if (kind === 'channelAsync') {
      for await (const message of channel) {
        bytes += message.length
        received++
      }
    } else {
      for (let message; (message = channel.receiveInPlace()) !== undefined; ) {
        bytes += message.bytes.length
        received++
        message.release()
      }
    }
    channel.close()
  } else if (kind === 'socket') {
    const socket = net.connect(address)
    await new Promise((resolve) => socket.once('connect', resolve))
    process.send('ready')
    // The chunks of a message that spans several, joined once it is whole (joining at every
    // chunk would copy a 4 MiB message dozens of times).
    let parts = []
    let partBytes = 0
    let needed = -1 // the length of the message being gathered, once its prefix is known
    await new Promise((resolve) => {
      socket.on('data', (chunk) => {
        parts.push(chunk)
        partBytes += chunk.length
        for (;;) {
          if (needed < 0) {
            if (partBytes < 4) break
            if (parts[0].length < 4) parts = [Buffer.concat(parts)]
            needed = parts[0].readUInt32LE(0) + 4
          }
          if (partBytes < needed) break
          const data = parts.length === 1 ? parts[0] : Buffer.concat(parts)
          const message = data.subarray(4, needed)
          bytes += message.length
          received++
          const rest = data.subarray(needed)
          parts = rest.length ? [rest] : []
          partBytes = rest.length
          needed = -1
        }
        if (received === count) resolve()
      })
    })
    socket.end()
  } else {
    process.send('ready')
    await new Promise((resolve) => {
      process.on('message', (message) => {
        if (message === 'end') return resolve()
        bytes += message.length
        received++
      })
    })
  }
  process.send({ received, bytes }, () => process.exit(0))
}

// ---- the sending side, here ----

/** Sends `count` messages of `size` bytes over `kind`; resolves with messages per second. */
async function measure(kind, size, count) {
  const payload = Buffer.alloc(size, 0x61)
  let address
  let channel
  let server
  let serverSocket
  if (kind.startsWith('channel')) {
    address = SharedMemory.generateId()
    channel = new Channel(address, { capacity: capacityFor(size) })
  } else if (kind === 'socket') {
    address = path.join(os.tmpdir(), `shm-channel-bench-${process.pid}.sock`)
    fs.rmSync(address, { force: true })
    server = net.createServer()
    await new Promise((resolve) => server.listen(address, resolve))
  }
  const child = fork(__filename, ['--receive', kind, address ?? '', String(count)], { serialization: kind === 'ipc' ? 'advanced' : 'json' })
  const done = new Promise((resolve) => child.on('message', (message) => message !== 'ready' && resolve(message)))
  if (server) serverSocket = await new Promise((resolve) => server.once('connection', resolve))
  await new Promise((resolve) => child.once('message', resolve)) // ready
  const started = process.hrtime.bigint()
  if (kind === 'channel' || kind === 'channelInPlace') {
    for (let i = 0; i < count; i++) channel.send(payload)
    channel.end()
  } else if (kind === 'channelAsync') {
    for (let i = 0; i < count; i++) await channel.sendAsync(payload)
    channel.end()
  } else if (kind === 'socket') {
    const header = Buffer.alloc(4)
    header.writeUInt32LE(size)
    for (let i = 0; i < count; i++) {
      serverSocket.write(header)
      if (!serverSocket.write(payload)) await new Promise((resolve) => serverSocket.once('drain', resolve))
    }
  } else {
    for (let i = 0; i < count; i++) {
      if (!child.send(payload)) await new Promise((resolve) => setImmediate(resolve))
    }
    child.send('end')
  }
  const result = await done
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (result.received !== count || result.bytes !== count * size) throw new Error(`${kind}: ${result.received} of ${count} messages arrived`)
  await new Promise((resolve) => child.on('exit', resolve))
  channel?.close()
  serverSocket?.destroy()
  server?.close()
  return count / seconds
}

// ---- request / response ----

async function echo(requests, replies) {
  const inbox = new Channel(requests, { create: false })
  const outbox = new Channel(replies, { create: false })
  process.send('ready')
  for (let message; (message = inbox.receive()) !== undefined; ) outbox.send(message)
  inbox.close()
  outbox.close()
  process.exit(0)
}

/** p50 µs of a 64-byte request and its reply, a channel each way. */
async function requestResponse(rounds) {
  const requests = new Channel(SharedMemory.generateId(), { capacity: 4096 })
  const replies = new Channel(SharedMemory.generateId(), { capacity: 4096 })
  const child = fork(__filename, ['--echo', requests.name, replies.name])
  await new Promise((resolve) => child.once('message', resolve))
  const payload = Buffer.alloc(64, 0x62)
  const times = new Float64Array(rounds)
  for (let i = 0; i < rounds; i++) {
    const started = process.hrtime.bigint()
    requests.send(payload)
    replies.receive()
    times[i] = Number(process.hrtime.bigint() - started) / 1000
  }
  requests.end()
  await new Promise((resolve) => child.on('exit', resolve))
  requests.close()
  replies.close()
  times.sort()
  return { p50: times[Math.floor(rounds / 2)], p99: times[Math.floor(rounds * 0.99)] }
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1]

async function run({ repeats = quick ? 1 : 3 } = {}) {
  const rates = {}
  for (const size of SIZES) {
    const count = countFor(size)
    const kinds = Object.keys(TRANSPORTS)
    rates[size] = Object.fromEntries(kinds.map((kind) => [kind, []]))
    for (let r = 0; r < repeats; r++) {
      // Each repeat its own order: no transport always runs right after the same one.
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(k + r) % kinds.length]
        rates[size][kind].push(await measure(kind, size, count))
      }
    }
    rates[size] = Object.fromEntries(Object.entries(rates[size]).map(([kind, values]) => [kind, median(values)]))
  }
  const rounds = quick ? 2000 : 20000
  const rt = await requestResponse(rounds)
  const raw = (await roundtrip.run(rounds, 1, ['wait'])).wait
  return { sizes: SIZES, rates, requestResponse: rt, waitNotify: { p50: raw.p50, p99: raw.p99 } }
}

function formatRate(size, perSecond) {
  const bandwidth = (size * perSecond) / 2 ** 30
  return `${perSecond >= 1e6 ? (perSecond / 1e6).toFixed(2) + ' M' : (perSecond / 1e3).toFixed(1) + ' k'}/s, ${bandwidth.toFixed(2)} GiB/s`
}

function sizeLabel(size) {
  return size >= 2 ** 20 ? `${size / 2 ** 20} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`
}

function table(results) {
  const lines = ['| message | transport | messages/s, bandwidth | vs socket |', '|---|---|---:|---:|']
  for (const size of results.sizes) {
    const socket = results.rates[size].socket
    for (const [kind, rate] of Object.entries(results.rates[size])) {
      lines.push(`| ${sizeLabel(size)} | ${TRANSPORTS[kind]} | ${formatRate(size, rate)} | ${(rate / socket).toFixed(2)}× |`)
    }
  }
  const { requestResponse: rr, waitNotify: wn } = results
  lines.push('', '| round trip, 64 B | p50 µs | p99 µs | p50 vs wait/notify |', '|---|---:|---:|---:|')
  lines.push(`| request / response, a channel each way | ${rr.p50.toFixed(1)} | ${rr.p99.toFixed(1)} | ${(rr.p50 / wn.p50).toFixed(2)}× |`)
  lines.push(`| raw wait / notify (roundtrip.js) | ${wn.p50.toFixed(1)} | ${wn.p99.toFixed(1)} | 1.00× |`)
  return lines.join('\n')
}

/** The goals, judged on this run. */
function targets(results) {
  const at = (size, kind) => results.rates[size][kind]
  const big = 4 * 1024 * 1024
  return [
    ['64 B: at least 10× the socket\'s messages per second', 64, () => at(64, 'channel') / at(64, 'socket'), 10],
    ['4 MiB: at least 2× the socket\'s bandwidth, copying receive', big, () => at(big, 'channel') / at(big, 'socket'), 2],
    ['4 MiB: at least 8× the socket\'s bandwidth, in-place receive', big, () => at(big, 'channelInPlace') / at(big, 'socket'), 8],
    // The one goal that is a ceiling: a round trip at most twice the raw one.
    ['request/response p50 at most 2× the wait/notify round trip', null, () => results.requestResponse.p50 / results.waitNotify.p50, -2],
  ]
    .filter(([, size]) => size === null || results.sizes.includes(size))
    .map(([what, , value, goal]) => ({ what, value: value(), met: goal < 0 ? value() <= -goal : value() >= goal }))
}

/** docs/channel-benchmarks.md: the machine, the table, the goals, and the chart. */
function report(results, svg) {
  const machine = `${os.cpus().length} × ${os.cpus()[0].model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`
  const lines = [
    '# Channel benchmarks',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`npm run bench:channel\``,
    '(`benchmark/channel.js`). One sender process, one receiver process; every transport runs once per',
    'repeat, in turn, and the table shows the median of the repeats. The socket frames each message',
    'with a 4-byte length; IPC uses `advanced` serialization. A copying receive gives each message a',
    'Buffer of its own; an in-place receive reads it in the channel and releases it.',
    '',
    table(results),
    '',
    '| goal | this run | |',
    '|---|---:|---|',
    ...targets(results).map(({ what, value, met }) => `| ${what} | ${value.toFixed(2)}× | ${met ? 'met' : '**not met**'} |`),
    '',
  ]
  if (targets(results).some(({ met }) => !met)) {
    lines.push('Why a goal is missed, where one is: `docs/decisions.md`, "The channel", "Where the speed goals are missed".', '')
  }
  if (svg) lines.push(`![bandwidth of each transport, against the socket's](${path.basename(svg)})`, '')
  return lines.join('\n')
}

/** A bar chart (SVG) of each transport's bandwidth at each size, against the socket's. */
function chart(results) {
  const kinds = Object.keys(TRANSPORTS)
  const colors = ['#1f77b4', '#6baed6', '#08306b', '#d62728', '#7f7f7f']
  const panel = 220
  const height = 260
  const parts = []
  results.sizes.forEach((size, index) => {
    const rates = results.rates[size]
    const top = Math.max(...Object.values(rates)) * 1.1
    const x0 = index * panel
    parts.push(`<text x="${x0 + panel / 2}" y="18" text-anchor="middle" font-weight="bold">${sizeLabel(size)} messages</text>`)
    kinds.forEach((kind, k) => {
      const h = (rates[kind] / top) * 180
      const x = x0 + 20 + k * 38
      parts.push(`<rect x="${x}" y="${220 - h}" width="30" height="${h}" fill="${colors[k]}"/>`)
      parts.push(`<text x="${x + 15}" y="${215 - h}" text-anchor="middle" font-size="9">${(rates[kind] / rates.socket).toFixed(1)}×</text>`)
    })
  })
  const legend = kinds.map((kind, k) => `<rect x="${10 + k * 170}" y="236" width="10" height="10" fill="${colors[k]}"/><text x="${24 + k * 170}" y="245" font-size="10">${TRANSPORTS[kind]}</text>`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${panel * results.sizes.length}" height="${height}" font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n${[...parts, ...legend].join('\n')}\n</svg>\n`
}

if (process.argv[2] === '--receive') {
  receiveAll(process.argv[3], process.argv[4], Number(process.argv[5]))
} else if (process.argv[2] === '--echo') {
  echo(process.argv[3], process.argv[4])
} else if (require.main === module) {
  const option = (name) => {
    const at = process.argv.indexOf(name)
    return at > 0 ? process.argv[at + 1] : undefined
  }
  run().then((results) => {
    console.log(table(results))
    console.log('\nGoals:')
    for (const { what, value, met } of targets(results)) console.log(`  ${met ? 'met    ' : 'NOT MET'} ${what} (${value.toFixed(2)})`)
    if (option('--json')) fs.writeFileSync(option('--json'), JSON.stringify({ ...results, targets: targets(results) }, null, 2) + '\n')
    if (option('--svg')) fs.writeFileSync(option('--svg'), chart(results))
    if (option('--report')) fs.writeFileSync(option('--report'), report(results, option('--svg')))
  })
}

module.exports = { run, table, targets, chart, report }
