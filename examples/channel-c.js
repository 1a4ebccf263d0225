'use strict'

// Node and C talking through two channels: this process sends requests, a C
// program (examples/c/channel_peer.c, built here with the machine's cc) answers
// each with "C:" in front, and the replies are checked byte for byte.
//
//   node examples/channel-c.js [REQUESTS_NAME REPLIES_NAME]
//
// (The test passes names of its own, to remove the channels even when this
// process is killed.)
//
// The C side follows docs/channel-format.md with C11 atomics; it runs on Linux.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { Channel, SharedMemory } = require('..')

if (process.platform !== 'linux') {
  console.log('the C peer is written for Linux (its liveness marks are Linux locks): skipped')
  process.exit(0)
}

const build = fs.mkdtempSync(path.join(os.tmpdir(), 'channel-c-'))
const program = path.join(build, 'channel_peer')
const compiled = spawnSync('cc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', program, path.join(__dirname, 'c', 'channel_peer.c')], { stdio: 'inherit' })
if (compiled.status !== 0) throw new Error('cc could not build examples/c/channel_peer.c')

const [requestsName = SharedMemory.generateId(), repliesName = SharedMemory.generateId()] = process.argv.slice(2)
const requests = new Channel(requestsName, { capacity: 4096 })
const replies = new Channel(repliesName, { capacity: 4098 })
const peer = spawn(program, [requests.name, replies.name], { stdio: ['ignore', 'inherit', 'inherit'] })
const exited = new Promise((resolve) => peer.on('exit', resolve))

async function main() {
  const count = 2000
  const sent = []
  // Replies are read while requests go out: the channels are small, so neither side can run ahead.
  const reading = (async () => {
    let answered = 0
    for await (const reply of replies) {
      const request = sent[answered]
      const expected = typeof request === 'string' ? `C:${request}` : Buffer.concat([Buffer.from('C:'), request])
      if (typeof reply !== typeof expected || (typeof reply === 'string' ? reply !== expected : !reply.equals(expected))) {
        throw new Error(`reply ${answered} is not "C:" and request ${answered}`)
      }
      answered++
    }
    return answered
  })()
  for (let i = 0; i < count; i++) {
    const length = (i * 97) % 4097
    const request = i % 2 ? Buffer.alloc(length, i) : `request ${i} ${'é'.repeat(Math.max(0, (length - 20) >> 1))}`
    sent.push(request)
    await requests.sendAsync(request)
  }
  requests.end()
  const answered = await reading // until the C side ends the replies channel
  const code = await exited
  requests.close()
  replies.close()
  fs.rmSync(build, { recursive: true, force: true })
  if (code !== 0) throw new Error(`the C peer exited with ${code}`)
  if (answered !== count) throw new Error(`${answered} of ${count} requests answered`)
  console.log(`node: ${count} requests answered by C, each reply checked byte for byte`)
}

main().catch((error) => {
  peer.kill()
  requests.close()
  replies.close()
  console.error(error)
  process.exit(1)
})
