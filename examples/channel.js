'use strict'

// Two processes talking through channels: this one sends jobs to a worker
// process on one channel, the worker answers each on another.
//
//   node examples/channel.js

const { fork } = require('node:child_process')
const { Channel, SharedMemory } = require('..')

async function worker(jobsName, answersName) {
  const jobs = new Channel(jobsName, { create: false })
  const answers = new Channel(answersName, { create: false })
  // Every job until the parent ends the channel.
  for await (const job of jobs) {
    const { id, text } = JSON.parse(job)
    await answers.sendAsync(JSON.stringify({ id, words: text.split(/\s+/).length, shout: text.toUpperCase() }))
  }
  answers.end()
  jobs.close()
  answers.close()
}

async function main() {
  // The channels are created here; their names are all the worker needs.
  const jobs = new Channel(SharedMemory.generateId(), { capacity: 64 * 1024 })
  const answers = new Channel(SharedMemory.generateId(), { capacity: 64 * 1024 })
  const child = fork(__filename, ['--worker', jobs.name, answers.name])

  const texts = ['shared memory moves bytes', 'channels move messages', 'one machine only']
  texts.forEach((text, id) => jobs.send(JSON.stringify({ id, text })))
  jobs.end() // no more jobs: the worker's for await ends after the last one

  for await (const answer of answers) {
    const { id, words, shout } = JSON.parse(answer)
    console.log(`job ${id}: ${words} words, ${shout}`)
  }
  await new Promise((resolve) => child.on('exit', resolve))
  jobs.close() // the creator's close() removes the names
  answers.close()
}

if (process.argv[2] === '--worker') worker(process.argv[3], process.argv[4])
else main()
