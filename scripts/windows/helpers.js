'use strict'

// Shared by the Windows suites in this folder. They test the Windows build of
// the addon with a real Windows node.exe (under Wine, see
// scripts/test-windows.sh), which sets SHM_WINDOWS_MODULE to the folder of the
// package to load. They refuse to run anywhere else, so that they can never
// pass without having tested Windows.

const path = require('node:path')
const { fork } = require('node:child_process')

if (process.platform !== 'win32') {
  throw new Error(`the suites in scripts/windows/ test the Windows build; this is ${process.platform}`)
}
if (!process.env.SHM_WINDOWS_MODULE) {
  throw new Error('SHM_WINDOWS_MODULE must name the package folder to test (scripts/test-windows.sh sets it)')
}
const SharedMemory = require(process.env.SHM_WINDOWS_MODULE)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

let counter = 0

/** A block name no other test (or earlier run) uses. */
function uniqueName(tag = 't') {
  counter += 1
  return `w-${tag}-${process.pid}-${counter}-${SharedMemory.generateId().slice(0, 6)}`
}

/** Opens a block and closes it when test `t` ends, whether it passed or not. */
function open(t, name, sizeOrOptions, ...rest) {
  const memory = new SharedMemory(name, sizeOrOptions, ...rest)
  t.after(() => memory.close())
  return memory
}

/** The error `fn` throws (fails the test if it throws none). */
function thrown(fn) {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected an error, none was thrown')
}

/** Polls `predicate` until it holds, for at most `timeoutMs`; returns whether it held. */
async function eventually(predicate, timeoutMs = 5000) {
  const started = Date.now()
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) return false
    await sleep(10)
  }
  return true
}

/**
 * Another Windows process (scripts/windows/child.js) that runs operations on
 * request: `await child.call('open', name, options)` and so on. Killed when
 * test `t` ends. An operation that fails there rejects here with an error of
 * the same name, code and message; a child that dies rejects every pending
 * call with its exit code and what it wrote to stderr.
 */
class Child {
  static async start(t) {
    const child = new Child()
    t.after(() => child.kill())
    await child.call('ping')
    return child
  }

  constructor() {
    // stdout is not inherited: the test runner reads this file's stdout.
    // 'advanced' serialization keeps undefined and Infinity arguments as they are.
    this.process = fork(path.join(__dirname, 'child.js'), [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    })
    this.pid = this.process.pid
    this.stderr = ''
    this.pending = new Map()
    this.nextId = 0
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exitCode = code
        this.exitSignal = signal
        const error = new Error(`child ${this.pid} exited (code ${code}, signal ${signal}): ${this.stderr.trim()}`)
        for (const { reject, timer } of this.pending.values()) {
          clearTimeout(timer)
          reject(error)
        }
        this.pending.clear()
        resolve({ code, signal })
      })
    })
    this.process.stderr.setEncoding('utf8')
    this.process.stderr.on('data', (text) => {
      this.stderr += text
    })
    this.process.on('message', ({ id, value, error }) => {
      const call = this.pending.get(id)
      if (!call) return
      this.pending.delete(id)
      clearTimeout(call.timer)
      if (error) call.reject(Object.assign(new Error(error.message), error))
      else call.resolve(value)
    })
  }

  /** Runs `op(...args)` in the child; rejects after 20 s without an answer. */
  call(op, ...args) {
    const timeoutMs = 20000
    const id = ++this.nextId
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        // A Windows process that crashes under Wine may hang instead of exiting,
        // with "wine: Unhandled page fault ..." on the console.
        const said = this.stderr.trim() || '(nothing on stderr; a crash under Wine prints "wine: Unhandled ..." to the console)'
        reject(new Error(`child ${this.pid}: ${op} did not answer within ${timeoutMs} ms: ${said}`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.process.send({ id, op, args })
    })
  }

  /** Ends the child at once (TerminateProcess on Windows) and waits until it is gone. */
  async kill() {
    if (this.exitCode === undefined) this.process.kill('SIGKILL')
    await this.exited
  }
}

module.exports = { SharedMemory, sleep, uniqueName, open, thrown, eventually, Child }
