'use strict'

// Shared by the test files: unique block names that are removed after the
// test file ends, even when a test fails or forgets to close a block.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const vm = require('node:vm')
const { after } = require('node:test')
const { fork } = require('node:child_process')
const { setImmediate: tick } = require('node:timers/promises')

const SharedMemory = require('..')
const { waitsInKernel } = require('../binding.js')

const created = new Set()

/** A fresh block name, removed from the system when this test file ends. */
function uniqueName(tag = 'test') {
  const name = `t-${tag}-${process.pid}-${SharedMemory.generateId().slice(0, 8)}`
  created.add(name)
  return name
}

/** Removes the block `name` if it still exists. */
function removeBlock(name) {
  if (typeof SharedMemory.unlink === 'function') {
    SharedMemory.unlink(name)
  } else if (process.platform !== 'win32') {
    fs.rmSync(path.join('/dev/shm', name), { force: true })
  }
}

after(() => {
  for (const name of created) removeBlock(name)
})

/** Whether a block named `name` exists, seen from another attach attempt. */
function blockExists(name) {
  try {
    new SharedMemory(name, 1, false, false)
    return true
  } catch (error) {
    if (error.code === 'ERR_SHM_NOT_FOUND') return false
    throw error
  }
}

/**
 * Runs `fixtures/<script>` in a child process with `args`, sends it the
 * messages in `messages` as it asks for them, and resolves with what it sent
 * back and its exit code. Rejects if it does not finish within `timeoutMs`.
 */
function runChild(script, args = [], { timeoutMs = 20000, onMessage } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'fixtures', script), args, { stdio: 'inherit' })
    const received = []
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not finish within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('message', (message) => {
      received.push(message)
      if (onMessage) onMessage(message, child)
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, messages: received })
    })
  })
}

/**
 * Resolves once thread `thread` of process `pid` (the main thread by default)
 * sleeps in a shared futex, as a wait on a block does, so that a notify sent
 * now reaches it. Elsewhere than on Linux, waits half a second instead.
 */
async function whenSleeping(pid, { thread = pid, timeoutMs = 10000 } = {}) {
  if (process.platform !== 'linux') return new Promise((resolve) => setTimeout(resolve, 500))
  const started = Date.now()
  while (!inSharedFutex(thread, pid)) {
    if (Date.now() - started > timeoutMs) throw new Error(`thread ${thread} of process ${pid} never slept in a shared futex`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The ids of the threads of process `pid` named `name` (Linux). */
function threadsNamed(pid, name) {
  const tasks = `/proc/${pid}/task`
  return fs.readdirSync(tasks).filter((tid) => {
    try {
      return fs.readFileSync(path.join(tasks, tid, 'comm'), 'utf8').trim() === name
    } catch {
      return false // the thread ended since the directory was read
    }
  })
}

/**
 * Starts `fixtures/<script>` and returns it with `next(test)`, which resolves
 * with the first message (received or to come) that passes `test`, and
 * `exited`, which resolves with `{ code, signal }`. The child is killed after
 * `timeoutMs`, and when this test file ends.
 */
function startChild(script, args = [], { timeoutMs = 30000 } = {}) {
  const child = fork(path.join(__dirname, 'fixtures', script), args, { stdio: 'inherit' })
  const received = []
  const listeners = []
  child.on('message', (message) => {
    received.push(message)
    for (const listener of listeners.splice(0)) listener()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
  running.add(child)
  exited.then(() => running.delete(child))
  const next = (test = () => true) =>
    new Promise((resolve, reject) => {
      const look = () => {
        const found = received.find(test)
        if (found) return resolve(found)
        if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`${script} exited first`))
        listeners.push(look)
      }
      exited.then(look)
      look()
    })
  return { child, next, exited }
}

const running = new Set()
after(() => {
  for (const child of running) child.kill('SIGKILL')
})

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

/** Collects garbage and lets the finalizers run (napi runs them from the event loop). */
async function collectGarbage(rounds = 5) {
  for (let i = 0; i < rounds; i++) {
    gc()
    await tick()
  }
}

/** The id of the waitAsync thread of process `pid`, once it exists (Linux; elsewhere `pid`). */
async function waiterThread(pid) {
  if (process.platform !== 'linux') return pid
  for (let i = 0; i < 2000; i++) {
    const [tid] = threadsNamed(pid, 'shared-memory-w')
    if (tid) return Number(tid)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error('no waiter thread')
}

/** futex(2) on x86_64 and arm64, and its FUTEX_PRIVATE_FLAG. */
const FUTEX = new Set([202, 98])
const FUTEX_PRIVATE_FLAG = 128
/** futex_waitv(2), the same number on x86_64 and arm64 (a waiter thread's interruptible sleep). */
const FUTEX_WAITV = 449

/**
 * The words a thread sleeping in futex_waitv waits on that are not private to its process (its
 * `struct futex_waitv` array, read from the process's memory: each entry is value, address,
 * flags, reserved; FUTEX2_PRIVATE is FUTEX_PRIVATE_FLAG).
 */
function sharedWordsOfWaitv(pid, array, count) {
  const entries = Buffer.alloc(24 * Number(count))
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r')
  try {
    fs.readSync(fd, entries, 0, entries.length, BigInt(array))
  } finally {
    fs.closeSync(fd)
  }
  const words = []
  for (let at = 0; at < entries.length; at += 24) {
    if ((entries.readUInt32LE(at + 16) & FUTEX_PRIVATE_FLAG) === 0) words.push(entries.readBigUInt64LE(at + 8))
  }
  return words
}

/**
 * Whether thread `tid` of process `pid` sleeps in a shared futex, as waits on a block do (an idle
 * waiter thread sleeps in a private one: its queue's condition variable). With `within`, a list of
 * [start, end) address ranges, the futex word must also lie in one of them.
 */
function inSharedFutex(tid, pid = process.pid, within = null) {
  try {
    const [number, address, op] = fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ')
    let words
    if (Number(number) === FUTEX_WAITV) words = sharedWordsOfWaitv(pid, address, op)
    else if (FUTEX.has(Number(number)) && (Number(op) & FUTEX_PRIVATE_FLAG) === 0) words = [BigInt(address)]
    else return false
    if (!within) return words.length > 0
    return words.some((word) => within.some(([start, end]) => word >= start && word < end))
  } catch {
    return false // the thread ended meanwhile
  }
}

/** The address ranges where this process maps block `name` (each handle and waiter page its own). */
function mappingsOf(name) {
  const ranges = []
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const fields = line.split(/\s+/)
    if (fields[5] !== `/dev/shm/${name}`) continue
    const [start, end] = fields[0].split('-')
    ranges.push([BigInt(`0x${start}`), BigInt(`0x${end}`)])
  }
  return ranges
}

/** Whether waitAsync calls of this process wait in the kernel's wait ring (Linux 6.7 and later). */
const waitsInRing = waitsInKernel('') !== null

/**
 * How many waitAsync and lockAsync calls of this process sleep on a word of block `memory` (a
 * SharedMemory or its name) now: those the wait ring holds, and the waiter threads asleep in a
 * futex on one of its pages. Linux only; elsewhere null. Waiters on other blocks,
 * which earlier tests may have left winding down, are not counted.
 */
function sleepingWaiters(memory) {
  const name = typeof memory === 'string' ? memory : memory.name
  if (process.platform !== 'linux') return waitsInRing ? waitsInKernel(name) : null
  // Threads too: lockAsync calls sleep on threads even where waitAsync calls use the ring.
  const within = mappingsOf(name)
  const threads = threadsNamed(process.pid, 'shared-memory-w').filter((tid) => inSharedFutex(tid, process.pid, within)).length
  return threads + (waitsInRing ? waitsInKernel(name) : 0)
}

/**
 * Resolves once the waiter.js child `handle` sleeps in its `kind` wait ('wait' or 'waitAsync'):
 * its waitAsync is in its wait ring, or its thread (main or waiter) is asleep in a futex.
 */
async function whenChildSleeps(handle, kind) {
  const { pid } = handle.child
  if (kind === 'wait') return whenSleeping(pid)
  const { asleep } = await handle.next((m) => 'asleep' in m)
  if (asleep === 'thread') await whenSleeping(pid, { thread: await waiterThread(pid) })
}

/**
 * Resolves once some wait of this process sleeps on a word of block `memory`: a thread (a
 * worker's, say) asleep in a futex on one of its pages, or a waitAsync held by the wait ring
 * (Linux; elsewhere, waits half a second).
 */
async function whenAnyThreadSleepsOn(memory, { timeoutMs = 10000 } = {}) {
  if (process.platform !== 'linux') return new Promise((resolve) => setTimeout(resolve, 500))
  const started = Date.now()
  for (;;) {
    if (waitsInRing && waitsInKernel(memory.name) > 0) return
    const within = mappingsOf(memory.name)
    if (fs.readdirSync('/proc/self/task').some((tid) => inSharedFutex(tid, process.pid, within))) return
    if (Date.now() - started > timeoutMs) throw new Error(`no thread sleeps on block ${memory.name}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * Resolves once `count` waitAsync threads of this process sleep on a word of block `memory` (or,
 * with `exactly`, once exactly `count` do, 0 included). Elsewhere than on Linux, waits half a
 * second.
 *
 * A waiter leaves its futex between two wait slices, for longer on a loaded machine; so where
 * fewer sleepers is the event awaited (`exactly`), the count must also hold a wait slice later.
 */
async function whenWaitersSleep(memory, count, { exactly = false, timeoutMs = 10000 } = {}) {
  if (process.platform !== 'linux') return new Promise((resolve) => setTimeout(resolve, 500))
  const started = Date.now()
  const holds = () => (exactly ? sleepingWaiters(memory) === count : sleepingWaiters(memory) >= count)
  for (;;) {
    if (holds()) {
      if (!exactly || waitsInRing) return
      await new Promise((resolve) => setTimeout(resolve, 300)) // longer than a wait slice
      if (holds()) return
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${sleepingWaiters(memory)} waiters sleep, not ${exactly ? '' : 'at least '}${count}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Calls `fn` and returns the error it throws; fails when it does not throw. */
function thrown(fn) {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected an error, but nothing was thrown')
}

module.exports = {
  SharedMemory,
  uniqueName,
  removeBlock,
  blockExists,
  runChild,
  startChild,
  thrown,
  whenSleeping,
  threadsNamed,
  waiterThread,
  sleepingWaiters,
  waitsInRing,
  whenChildSleeps,
  whenWaitersSleep,
  whenAnyThreadSleepsOn,
  collectGarbage,
}
