'use strict'

// Shared by the test files: unique block names that are removed after the
// test file ends, even when a test fails or forgets to close a block.

const fs = require('node:fs')
const path = require('node:path')
const { after } = require('node:test')
const { fork } = require('node:child_process')

const SharedMemory = require('..')

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

/** Calls `fn` and returns the error it throws; fails when it does not throw. */
function thrown(fn) {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected an error, but nothing was thrown')
}

module.exports = { SharedMemory, uniqueName, removeBlock, blockExists, runChild, thrown }
