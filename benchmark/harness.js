'use strict'

// A small benchmark harness: each case runs every system in turn (A B C, then
// B C A, ...), a batch at a time, and keeps the median time per operation. Batches
// are sized to take a few milliseconds, so timer overhead does not count.

const { performance } = require('node:perf_hooks')

const BATCH_MS = 10

/** Runs `op` `n` times; returns nanoseconds per call. */
function timeBatch(op, n) {
  const started = performance.now()
  for (let i = 0; i < n; i++) op(i)
  return ((performance.now() - started) * 1e6) / n
}

/** How many calls of `op` take about BATCH_MS. */
function calibrate(op) {
  let n = 1
  for (;;) {
    const started = performance.now()
    for (let i = 0; i < n; i++) op(i)
    const elapsed = performance.now() - started
    if (elapsed >= BATCH_MS || n >= 1 << 24) return Math.max(1, Math.round((n * BATCH_MS) / Math.max(elapsed, 0.001)))
    n *= 4
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * Compares systems on one case. `systems` maps a system name to a setup
 * function that returns `{ op, batch?, teardown? }`: `op(i)` is timed, and
 * `batch(n)`, if given, replaces the loop (for work that must be done per batch,
 * such as a garbage collection) and may return a promise of its ns per call.
 * Resolves to `{ system: { median, samples } }`.
 */
async function compare(systems, { rounds = 15 } = {}) {
  const runs = Object.entries(systems).map(([name, setup]) => {
    const subject = setup()
    const run = subject.batch ?? ((n) => timeBatch(subject.op, n))
    const n = subject.batch ? subject.n ?? 100 : calibrate(subject.op)
    return { name, subject, run, n, samples: [] }
  })
  for (const r of runs) await r.run(r.n) // warm-up
  for (let round = 0; round < rounds; round++) {
    // Each round starts with the next system, so none always follows the same one (and inherits
    // its background work, such as V8's concurrent sweeping).
    const order = runs.map((_, i) => runs[(i + round) % runs.length])
    for (const r of order) r.samples.push(await r.run(r.n))
  }
  const results = {}
  for (const r of runs) {
    r.subject.teardown?.()
    results[r.name] = { median: median(r.samples), samples: r.samples }
  }
  return results
}

module.exports = { compare, timeBatch, median }
