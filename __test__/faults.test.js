'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')

const { SharedMemory, uniqueName, startChild, thrown, whenSleeping, whenChildSleeps, whenWaitersSleep } = require('./helpers')


test('a host killed with SIGKILL leaves its clients working and its name in place until unlink', async () => {
  const name = uniqueName()
  const host = startChild('host-then-hang.js', [name])
  await host.next((m) => m.created)
  const client = startChild('busy-client.js', [name])
  await client.next((m) => m.attached)
  const here = new SharedMemory(name, { create: false })
  assert.equal(here.data, 'from the host')
  host.child.kill('SIGKILL')
  assert.equal((await host.exited).signal, 'SIGKILL')
  // The client goes on working: a thousand more rounds after the host died.
  const progress = async () => {
    const asked = client.next((m) => 'progress' in m && !seen.has(m))
    client.child.send('progress')
    const answer = await asked
    seen.add(answer)
    return answer.progress
  }
  const seen = new Set()
  const atDeath = await progress()
  while ((await progress()) < atDeath + 1000) await new Promise(setImmediate)
  client.child.send('stop')
  const report = await client.next((m) => 'rounds' in m)
  assert.equal(report.wrong, 0)
  assert.ok(report.rounds >= atDeath + 1000, `only ${report.rounds} rounds`)
  // This process's mapping works too.
  here.data = 'after the crash'
  assert.equal(here.data, 'after the crash')
  // The name outlives its creator until someone removes it.
  assert.equal(SharedMemory.exists(name), true)
  assert.equal(thrown(() => new SharedMemory(name, { size: 4096 })).code, 'ERR_SHM_EXISTS')
  assert.equal(SharedMemory.unlink(name), true)
  assert.equal(SharedMemory.exists(name), false)
  assert.equal(here.data, 'after the crash')
  here.close()
  new SharedMemory(name, { size: 4096 }).close()
})

for (const kind of ['wait', 'waitAsync']) {
  test(`a client killed during ${kind} does not disturb the others`, async () => {
    const memory = new SharedMemory(uniqueName(), { size: 64 })
    const doomed = startChild('waiter.js', [memory.name, kind, '0', '0', '30000'])
    const other = startChild('waiter.js', [memory.name, 'wait', '0', '0', '30000'])
    await doomed.next((m) => m.ready)
    await other.next((m) => m.ready)
    await whenChildSleeps(doomed, kind)
    await whenSleeping(other.child.pid)
    const here = memory.waitAsync(0, 0, 30000)
    doomed.child.kill('SIGKILL')
    assert.equal((await doomed.exited).signal, 'SIGKILL')
    Atomics.store(new Int32Array(memory.view.buffer), 0, 1)
    memory.notify(0)
    assert.equal(await here, 'ok')
    assert.deepEqual(await other.next((m) => 'result' in m), { result: 'ok' })
    memory.write('still fine', 8)
    assert.equal(memory.read(8), 'still fine')
    memory.close()
  })
}

test('a worker that exits holding blocks and pending waitAsync calls releases everything', async () => {
  const host = new SharedMemory(uniqueName(), { size: 64 })
  const own = uniqueName()
  const worker = new Worker(path.join(__dirname, 'fixtures', 'exiting-worker.js'), { workerData: { shared: host.name, own } })
  const messages = []
  worker.on('message', (message) => messages.push(message))
  const exited = new Promise((resolve, reject) => {
    worker.on('error', reject)
    worker.on('exit', resolve)
  })
  await new Promise((resolve) => worker.once('message', resolve))
  // Its three waits sleep on the words: two on the shared block, one on its own.
  await Promise.all([whenWaitersSleep(host, 2), whenWaitersSleep(own, 1)]).catch((error) => {
    worker.terminate()
    throw error
  })
  worker.postMessage('exit')
  assert.equal(await exited, 0)
  assert.deepEqual(messages, ['waiting'])
  assert.equal(SharedMemory.exists(own), false, "the worker's own block is gone")
  await whenWaitersSleep(host, 0, { exactly: true }) // its waits end: in the ring at once, threads within a wait slice
  assert.equal(host.notify(0), 0, 'no waiter of the worker is left')
  host.data = 'main thread unaffected'
  assert.equal(host.data, 'main thread unaffected')
  host.close()
})
