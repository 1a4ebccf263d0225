'use strict'

// `npm run bench`: 2.x against 1.x (@markusjx/shared_memory@1.0.1), against
// shm-typed-array, and against Buffer.copy between two plain Buffers (the
// memory-bandwidth limit), case by case in one process, interleaved.
// Writes docs/benchmarks.md, docs/benchmarks.json and docs/throughput.svg.
//
//   npm run bench            (from the repository root; installs what it needs)
//   BENCH_BASELINE=<dir> npm run bench
//                            also runs every 2.x case against the package in
//                            <dir> (an earlier build of this repository), as
//                            "baseline", interleaved in the same run

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { compare, timeBatch } = require('./harness')
const chart = require('./chart')
const roundtrip = require('./roundtrip')
const lock = require('./lock')

let v2 = require('..')
const baseline = process.env.BENCH_BASELINE ? require(path.resolve(process.env.BENCH_BASELINE)) : null
const v1 = require('shared-memory-v1')
const sta = require('shm-typed-array')

if (typeof gc !== 'function') throw new Error('run with --expose-gc (npm run bench does)')

const KiB = 1024
const MiB = 1024 * KiB
const SIZES = [KiB, 64 * KiB, MiB, 64 * MiB]
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const docs = path.join(__dirname, '..', 'docs')
const label = (size) => (size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`)

let serial = 0
const v2Name = () => `bench-${process.pid}-${serial++}`
const v1Id = () => v1.generateId()

/** A 2.x block of `size` bytes, closed by the teardown. */
function v2Block(size) {
  const memory = new v2(v2Name(), { size })
  return { memory, teardown: () => memory.close() }
}

function v1Block(size) {
  return { memory: new v1(v1Id(), size, false, true) }
}

function staBlock(size) {
  const buffer = sta.create(size, 'Buffer')
  return { memory: buffer, teardown: () => sta.destroy(buffer.key) }
}

const cases = []
function add(name, group, size, systems) {
  cases.push({ name, group, size, systems })
}

// 1.x API: strings.
const text = 'x'.repeat(64)
add('data = s; data (64 B string)', 'string', 64, {
  '1.x': () => { const { memory } = v1Block(KiB); return { op: () => { memory.data = text; return memory.data } } },
  '2.x': () => { const { memory, teardown } = v2Block(KiB); return { op: () => { memory.data = text; return memory.data }, teardown } },
})

// Bulk copies at each size.
for (const size of SIZES) {
  const source = Buffer.alloc(size, 7)
  add(`write(buffer) ${label(size)}`, 'write', size, {
    '1.x': () => { const { memory } = v1Block(size); return { op: () => memory.write(source) } },
    '2.x': () => { const { memory, teardown } = v2Block(size); return { op: () => memory.write(source), teardown } },
    'shm-typed-array': () => { const { memory, teardown } = staBlock(size); return { op: () => source.copy(memory), teardown } },
    'Buffer.copy': () => { const target = Buffer.alloc(size); return { op: () => source.copy(target) } },
  })
  add(`buffer = b ${label(size)}`, 'buffer =', size, {
    '1.x': () => { const { memory } = v1Block(size); return { op: () => { memory.buffer = source } } },
    '2.x': () => { const { memory, teardown } = v2Block(size); return { op: () => { memory.buffer = source }, teardown } },
    'Buffer.copy': () => { const target = Buffer.alloc(size); return { op: () => source.copy(target) } },
  })
  add(`readBuffer() ${label(size)}`, 'readBuffer', size, {
    '1.x': () => { const { memory } = v1Block(size); return { op: () => memory.readBuffer() } },
    '2.x': () => { const { memory, teardown } = v2Block(size); return { op: () => memory.readBuffer(), teardown } },
    'shm-typed-array': () => { const { memory, teardown } = staBlock(size); return { op: () => Buffer.from(memory), teardown } },
    'Buffer.copy': () => ({ op: () => Buffer.from(source) }),
  })
  add(`view ${label(size)}`, 'view', size, {
    '2.x': () => { const { memory, teardown } = v2Block(size); return { op: () => memory.view, teardown } },
  })
}

// 2.x only: offsets, and copying into the caller's memory.
{
  const chunk = Buffer.alloc(KiB, 3)
  const target = Buffer.alloc(KiB)
  add('write(buffer, offset) 1 KiB into 64 KiB', 'offsets', KiB, {
    '2.x': () => { const { memory, teardown } = v2Block(64 * KiB); return { op: (i) => memory.write(chunk, (i & 63) * KiB), teardown } },
    'Buffer.copy': () => { const block = Buffer.alloc(64 * KiB); return { op: (i) => chunk.copy(block, (i & 63) * KiB) } },
  })
  add('readInto(target, offset) 1 KiB of 64 KiB', 'offsets', KiB, {
    '2.x': () => { const { memory, teardown } = v2Block(64 * KiB); return { op: (i) => memory.readInto(target, (i & 63) * KiB), teardown } },
    'Buffer.copy': () => { const block = Buffer.alloc(64 * KiB); return { op: (i) => block.copy(target, 0, (i & 63) * KiB, ((i & 63) + 1) * KiB) } },
  })
}

// Lifetime: create and release a 4 KiB block. 1.x frees only on garbage
// collection, so its batch ends with one, and with the finalizers that run
// after it, and counts both.
const { setImmediate: tick } = require('node:timers/promises')
function gcBatch(make) {
  return async (n) => {
    const started = process.hrtime.bigint()
    for (let i = 0; i < n; i++) make()
    gc()
    await tick()
    await tick()
    return Number(process.hrtime.bigint() - started) / n
  }
}
add('create + release 4 KiB', 'lifetime', 4 * KiB, {
  '1.x (create + gc)': () => ({ batch: gcBatch(() => new v1(v1Id(), 4 * KiB, false, true)), n: 200 }),
  '2.x (create + close)': () => { const SharedMemory = v2; return { op: () => new SharedMemory(v2Name(), { size: 4 * KiB }).close() } },
  '2.x (create + gc)': () => { const SharedMemory = v2; return { batch: gcBatch(() => new SharedMemory(v2Name(), { size: 4 * KiB })), n: 200 } },
  'shm-typed-array': () => ({ op: () => sta.destroy(sta.create(4 * KiB, 'Buffer').key) }),
})
add('attach + release 4 KiB', 'lifetime', 4 * KiB, {
  '1.x (attach + gc)': () => { const id = v1Id(); const host = new v1(id, 4 * KiB, false, true); return { batch: gcBatch(() => new v1(id, 4 * KiB, false, false)), n: 200, teardown: () => host } },
  '2.x (attach + close)': () => { const SharedMemory = v2; const { memory, teardown } = v2Block(4 * KiB); return { op: () => new SharedMemory(memory.name, { create: false }).close(), teardown } },
  'shm-typed-array': () => { const host = sta.create(4 * KiB, 'Buffer'); return { op: () => { sta.get(host.key, 'Buffer'); sta.detach(host.key) }, teardown: () => sta.destroy(host.key) } },
})

// With BENCH_BASELINE, each 2.x system gets a twin set up with the baseline's
// class (every setup takes the class from `v2` when it runs).
if (baseline) {
  for (const c of cases) {
    for (const [system, setup] of Object.entries(c.systems)) {
      if (!system.startsWith('2.x')) continue
      c.systems[system.replace('2.x', 'baseline')] = () => {
        const current = v2
        v2 = baseline
        try {
          return setup()
        } finally {
          v2 = current
        }
      }
    }
  }
}

/** Each 2.x figure against its baseline twin, measured in the same run. */
function againstBaseline(results) {
  const lines = ['| case | system | 2.x | baseline | 2.x / baseline |', '|---|---|---:|---:|---:|']
  for (const c of results) {
    for (const [system, r] of Object.entries(c.results)) {
      const twin = system.startsWith('2.x') && c.results[system.replace('2.x', 'baseline')]
      if (twin) lines.push(`| ${c.name} | ${system} | ${format(r.median)} | ${format(twin.median)} | ${(r.median / twin.median).toFixed(2)}× |`)
    }
  }
  return lines.join('\n') + '\n'
}

async function main() {
  const results = []
  for (const c of cases) {
    const measured = await compare(c.systems, { rounds: ROUNDS })
    results.push({ ...c, systems: undefined, results: measured })
    process.stdout.write(`${c.name}: ${Object.entries(measured).map(([s, r]) => `${s} ${format(r.median)}`).join(', ')}\n`)
  }
  return results
}

function format(ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`
  return `${ns.toFixed(0)} ns`
}

/** The 1.x figure of a case, whatever its label says about how it is released. */
const v1Of = (results) => Object.entries(results).find(([name]) => name.startsWith('1.x'))?.[1]

function markdown(results, rt, lk) {
  const lines = [
    '| case | system | median | vs 1.x | % of Buffer.copy |',
    '|---|---|---:|---:|---:|',
  ]
  for (const c of results) {
    const base = v1Of(c.results)
    const limit = c.results['Buffer.copy']
    for (const [system, r] of Object.entries(c.results)) {
      const ratio = base ? `${(r.median / base.median).toFixed(2)}×` : ''
      const bulk = limit && c.size >= KiB && system !== 'Buffer.copy' ? `${((limit.median / r.median) * 100).toFixed(0)} %` : ''
      lines.push(`| ${c.name} | ${system} | ${format(r.median)} | ${ratio} | ${bulk} |`)
    }
  }
  return lines.join('\n') + '\n\n' + roundtrip.table(rt) + '\n\n' + lock.table(lk)
}

function targets(results) {
  const find = (name) => results.find((c) => c.name === name).results
  const checks = []
  for (const c of results) {
    const base = v1Of(c.results)
    const ours = c.results['2.x'] ?? c.results['2.x (create + close)'] ?? c.results['2.x (attach + close)']
    if (base && ours) checks.push([`${c.name}: 2.x at most 1.0× of 1.x`, ours.median / base.median <= 1.0, `${(ours.median / base.median).toFixed(2)}×`])
  }
  const rb = find('readBuffer() 1 KiB')
  checks.push(['readBuffer() 1 KiB at most 0.25× of 1.x', rb['2.x'].median / rb['1.x'].median <= 0.25, `${(rb['2.x'].median / rb['1.x'].median).toFixed(2)}×`])
  for (const size of SIZES.filter((s) => s >= MiB)) {
    for (const op of [`write(buffer) ${label(size)}`, `buffer = b ${label(size)}`]) {
      const r = find(op)
      const share = r['Buffer.copy'].median / r['2.x'].median
      checks.push([`${op} at 90 % or more of Buffer.copy`, share >= 0.9, `${(share * 100).toFixed(0)} %`])
    }
  }
  for (const size of SIZES) {
    const r = find(`view ${label(size)}`)['2.x']
    checks.push([`view ${label(size)} under 200 ns`, r.median < 200, format(r.median)])
  }
  return checks
}

async function run() {
  const results = await main()
  if (baseline) {
    // A comparison run: print it, and leave the published figures alone.
    console.log(`\n2.x against ${process.env.BENCH_BASELINE}:\n${againstBaseline(results)}`)
    return
  }
  const rt = await roundtrip.run(10000)
  console.log(roundtrip.table(rt))
  const lk = await lock.run()
  console.log(lock.table(lk))
  const checks = targets(results)
  checks.push(['uncontended lock + unlock under 100 ns', lk.uncontended.ours <= 100, `${lk.uncontended.ours.toFixed(1)} ns`])
  const handoff = lk.handoff.arriving.p50
  checks.push(['lock handoff p50 at most a wait/notify round trip p50', handoff <= lk.waitNotifyRoundTrip, `${handoff.toFixed(1)} µs vs ${lk.waitNotifyRoundTrip.toFixed(1)} µs`])
  const machine = `${os.cpus().length} × ${os.cpus()[0].model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`
  const date = new Date().toISOString().slice(0, 10)
  fs.writeFileSync(path.join(docs, 'benchmarks.json'), JSON.stringify({ date, machine, rounds: ROUNDS, results, roundtrip: rt, lock: lk, targets: checks }, null, 2) + '\n')
  fs.writeFileSync(path.join(docs, 'throughput.svg'), chart(results, SIZES, label))
  const report = fs.readFileSync(path.join(__dirname, 'report.md'), 'utf8')
    .replace('{{machine}}', machine)
    .replace('{{date}}', date)
    .replace('{{rounds}}', String(ROUNDS))
    .replace('{{table}}', markdown(results, rt, lk))
    .replace('{{targets}}', checks.map(([what, ok, value]) => `| ${what} | ${value} | ${ok ? 'met' : '**not met**'} |`).join('\n'))
  fs.writeFileSync(path.join(docs, 'benchmarks.md'), report)
  console.log('\nTargets:')
  for (const [what, ok, value] of checks) console.log(`  ${ok ? 'met    ' : 'NOT MET'} ${what}: ${value}`)
  console.log('\nwrote docs/benchmarks.md, docs/benchmarks.json, docs/throughput.svg')
}

run().catch((error) => {
  console.error(error)
  process.exit(1)
})
