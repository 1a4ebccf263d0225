'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const { SharedMemory, collectGarbage } = require('./helpers')
const skip = process.platform !== 'linux' && 'counts descriptors and mappings in /proc/self, which is Linux only'
const CYCLES = 100000
const prefix = `leak-${process.pid}-`

const settle = () => collectGarbage(6)

/**
 * What a leak would grow: descriptors, mappings of shared memory (the rest of
 * /proc/self/maps is V8's heap, which grows and shrinks on its own), /dev/shm
 * entries, resident memory.
 */
function resources() {
  return {
    descriptors: fs.readdirSync('/proc/self/fd').length,
    mappings: fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes('/dev/shm/')).length,
    blocks: fs.readdirSync('/dev/shm').filter((name) => name.startsWith(prefix)).length,
    rss: process.memoryUsage().rss,
  }
}

/** Runs `cycle(i)` CYCLES times after a warm-up, and checks that nothing grew. */
async function expectNoGrowth(t, cycle, { batch = 1000 } = {}) {
  for (let i = 0; i < 5000; i++) cycle(-1 - i) // warm-up: JIT, pools, allocator
  await settle()
  const before = resources()
  for (let i = 0; i < CYCLES; i += batch) {
    for (let j = i; j < i + batch; j++) cycle(j)
    await settle()
  }
  await settle()
  const after = resources()
  assert.equal(after.descriptors, before.descriptors, 'open descriptors')
  assert.equal(after.mappings, before.mappings, 'mappings')
  assert.equal(after.blocks, before.blocks, 'blocks left in /dev/shm')
  // 100,000 cycles: a leak of 160 bytes a cycle would show as 16 MiB.
  const grown = after.rss - before.rss
  assert.ok(grown < 16 * 1024 * 1024, `resident memory grew by ${(grown / 1048576).toFixed(1)} MiB`)
  t.diagnostic(`before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`)
}

test('100,000 create + close cycles leave nothing behind', { skip, timeout: 300000 }, async (t) => {
  await expectNoGrowth(t, (i) => {
    const memory = new SharedMemory(`${prefix}c${i}`, { size: 4096 })
    memory.view[0] = 1
    memory.close()
  })
})

test('100,000 create + garbage-collect cycles leave nothing behind', { skip, timeout: 300000 }, async (t) => {
  await expectNoGrowth(t, (i) => {
    const memory = new SharedMemory(`${prefix}g${i}`, { size: 4096 })
    memory.data = 'collected'
  })
})

test('100,000 attach + close cycles with views and waits leave nothing behind', { skip, timeout: 300000 }, async (t) => {
  const host = new SharedMemory(`${prefix}host`, { size: 4096 })
  await expectNoGrowth(t, () => {
    const memory = new SharedMemory(host.name, { create: false })
    memory.view[1] = 2
    memory.wait(0, 0, 0)
    memory.notify(0)
    memory.close()
  })
  host.close()
})
