'use strict'

// Node and Python on the same block: this process creates it and writes a
// message; `python_peer.py` (CPython's multiprocessing.shared_memory) attaches
// by the same name, reads it and writes a reply.
//
//   node examples/python.js

const path = require('node:path')
const { spawn } = require('node:child_process')
const SharedMemory = require('..')

const python = process.platform === 'win32' ? 'python' : 'python3'
const memory = new SharedMemory(SharedMemory.generateId(), { size: 4096 })
memory.data = JSON.stringify({ greeting: 'hello from Node', numbers: [1, 2, 3] })
console.log(`node:   wrote ${memory.data} to ${memory.id}`)

const peer = spawn(python, [path.join(__dirname, 'python_peer.py'), memory.name], { stdio: 'inherit' })
const timer = setTimeout(() => peer.kill(), 10000)
peer.on('exit', (code) => {
  clearTimeout(timer)
  console.log(`node:   python exited with ${code}; the block now says ${memory.data}`)
  const reply = JSON.parse(memory.data)
  memory.close()
  process.exitCode = code === 0 && reply.sum === 6 ? 0 : 1
})
