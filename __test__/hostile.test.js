'use strict'

// Hostile or careless use: huge timeouts, things planted in /dev/shm by other
// users, exits that skip finalizers, killed hosts, loops that never leave the
// microtask queue, terminated workers, exhausted descriptors and address
// space, calls with the wrong `this`. Each case that could crash or hang runs
// in a child process of its own (fixtures/hostile.js).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawnSync, fork } = require('node:child_process')

const { SharedMemory, uniqueName, runChild, startChild, removeBlock, waitsInRing } = require('./helpers')

const fixture = path.join(__dirname, 'fixtures', 'hostile.js')
const linuxOnly = process.platform !== 'linux' && 'plants files in /dev/shm, which is Linux only'
const isRoot = process.getuid?.() === 0
const hasSu = spawnSync('su', ['--help']).status === 0
const asNobody = (!isRoot || !hasSu) && 'needs root and su to act as user nobody'
// Under AddressSanitizer (.ci/run preloads it) the process reserves terabytes of shadow memory,
// and its allocator keeps freed memory in quarantine.
const underAsan = /asan/.test(process.env.LD_PRELOAD ?? '')

/** Runs `fixtures/hostile.js <which> <name> ...args` and returns what it reported. */
async function hostile(which, name, args = [], options = {}) {
  const { code, signal, messages } = await runChild('hostile.js', [which, name, ...args], options)
  return { code, signal, report: messages.find((m) => 'result' in m || 'error' in m), messages }
}

test('timeouts too large to represent wait forever: no panic, no abort, and the block is removed', async () => {
  const name = uniqueName('huge-timeout')
  const { code, signal, report } = await hostile('hugeTimeouts', name)
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, JSON.stringify(report))
  assert.deepEqual(report.result, {
    wait: ['not-equal', 'not-equal', 'not-equal'],
    waitAsync: ['not-equal', 'not-equal'],
    woken: 'ok',
  })
  assert.equal(SharedMemory.exists(name), false)
})

/** Whether this user may make a device node in /dev/shm (root, and /dev/shm not mounted nodev). */
function mayMakeDevices() {
  if (!isRoot || process.platform !== 'linux') return false
  const mount = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').find((line) => line.split(' ')[1] === '/dev/shm')
  return mount !== undefined && !mount.split(' ')[3].split(',').includes('nodev')
}

for (const [kind, make, skip] of [
  ['a FIFO', (file) => execFileSync('mkfifo', [file])],
  ['a directory', (file) => fs.mkdirSync(file)],
  // A link to a real block: followed, it would be attached (and, as another user's link, could
  // point at any file the victim may write).
  ['a symbolic link', (file, t) => {
    const target = `${file}-target`
    fs.writeFileSync(target, Buffer.alloc(64))
    t.after(() => fs.rmSync(target, { force: true }))
    fs.symlinkSync(target, file)
  }],
  // /dev/null, which opens read-write for anyone.
  ['a device', (file) => execFileSync('mknod', [file, 'c', '1', '3']), !mayMakeDevices() && 'needs root and a /dev/shm without nodev to make a device node'],
]) {
  test(`${kind} planted at the name is refused with ERR_SHM_NOT_A_BLOCK, and exists() answers at once`, { skip: linuxOnly || skip }, async (t) => {
    const name = uniqueName('planted')
    const file = path.join('/dev/shm', name)
    make(file, t)
    t.after(() => fs.rmSync(file, { recursive: true, force: true }))
    const { code, signal, report } = await hostile('notABlock', name, [], { timeoutMs: 10000 })
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, JSON.stringify(report))
    const { exists, attach, readOnly, ifMissing, create, reclaim } = report.result
    assert.deepEqual(exists, { value: true })
    for (const [how, got] of Object.entries({ attach, readOnly, ifMissing, reclaim })) {
      assert.equal(got.code, 'ERR_SHM_NOT_A_BLOCK', `${how}: ${JSON.stringify(got)}`)
      assert.equal(got.message, `cannot use shared memory block "${name}": the name is taken by ${kind}, not a shared memory block`)
    }
    assert.equal(create.code, 'ERR_SHM_EXISTS')
  })
}

test('an empty file that another program made and keeps locked is not waited for as a block being created', { skip: linuxOnly || (spawnSync('flock', ['--version']).status !== 0 && 'needs flock(1) from util-linux') }, async (t) => {
  // This library marks the blocks it creates (the sticky bit) and holds a lock on them while it
  // reserves their pages; an attach waits up to a minute for such a block. A file without the
  // mark is not one of ours, whoever holds a lock on it: the attach gives up after its usual
  // second of patience for an empty block.
  const name = uniqueName('locked-empty')
  const file = path.join('/dev/shm', name)
  fs.writeFileSync(file, '')
  t.after(() => fs.rmSync(file, { force: true }))
  const holder = require('node:child_process').spawn('flock', ['--exclusive', file, 'sleep', '60'], { stdio: 'ignore' })
  t.after(() => holder.kill('SIGKILL'))
  for (let i = 0; i < 500 && !fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(file).ino} `); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(file).ino} `), 'flock(1) holds its lock')
  const started = Date.now()
  const { code, signal, report } = await hostile('attachEmpty', name, [], { timeoutMs: 30000 })
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, JSON.stringify(report))
  assert.equal(report.result.code, 'ERR_SHM_TOO_LARGE', JSON.stringify(report))
  assert.equal(report.result.message, `shared memory block "${name}" has 0 bytes: its creator never gave it a size`)
  assert.ok(Date.now() - started < 15000, `the attach took ${Date.now() - started} ms: it waited for a creator`)
})

/** Creates /dev/shm/<name> as user nobody with `mode`, 4096 bytes. */
function plantAsNobody(name, mode) {
  const file = path.join('/dev/shm', name)
  execFileSync('su', ['nobody', '-s', '/bin/sh', '-c', `umask 0 && : > ${file} && truncate -s 4096 ${file} && chmod ${mode} ${file}`])
  return file
}

test("'if-missing' never takes another user's block for its own; create: false still shares it; reclaim leaves it alone", { skip: linuxOnly || asNobody }, async (t) => {
  const name = uniqueName('foreign')
  const file = plantAsNobody(name, '1666') // even with this library's mark
  t.after(() => fs.rmSync(file, { force: true }))
  const { code, report } = await hostile('foreign', name)
  assert.equal(code, 0, JSON.stringify(report))
  const { ifMissing, attach, reclaim } = report.result
  assert.equal(ifMissing.code, 'ERR_SHM_EXISTS')
  assert.match(ifMissing.message, new RegExp(`^shared memory block "${name}" already exists and it belongs to another user \\(uid \\d+\\)`))
  assert.deepEqual(attach, { value: { host: false } })
  assert.equal(reclaim.code, 'ERR_SHM_EXISTS')
  assert.ok(fs.existsSync(file), "the other user's block is still there")
})

test("'if-missing' refuses a block with other names (a hard link someone made to one of ours)", { skip: linuxOnly }, (t) => {
  const name = uniqueName('hardlink')
  const original = new SharedMemory(uniqueName('linked'), { size: 4096, mode: 0o666 })
  t.after(() => original.close())
  fs.linkSync(path.join('/dev/shm', original.name), path.join('/dev/shm', name))
  assert.throws(() => new SharedMemory(name, { size: 4096, create: 'if-missing' }), {
    code: 'ERR_SHM_EXISTS',
    message: `shared memory block "${name}" already exists and it has other names (2 hard links): 'if-missing' attaches only to this user's blocks (attach with create: false to share another user's block)`,
  })
})

test("'if-missing' checks another user's block before mapping it: a huge sparse one is ERR_SHM_EXISTS; create: false with a size maps only that", { skip: linuxOnly || asNobody }, async (t) => {
  const name = uniqueName('sparse')
  const file = path.join('/dev/shm', name)
  execFileSync('su', ['nobody', '-s', '/bin/sh', '-c', `umask 0 && : > ${file} && truncate -s 200T ${file} && chmod 666 ${file}`])
  t.after(() => fs.rmSync(file, { force: true }))
  assert.throws(() => new SharedMemory(name, { size: 64, create: 'if-missing' }), { code: 'ERR_SHM_EXISTS', message: /belongs to another user/ })
  const shared = new SharedMemory(name, { size: 64, create: false })
  assert.deepEqual({ host: shared.host, size: shared.size }, { host: false, size: 64 })
  shared.close()
})

test('a socket planted at the name is ERR_SHM_NOT_A_BLOCK too', { skip: linuxOnly }, async (t) => {
  const name = uniqueName('socket')
  const server = require('node:net').createServer()
  await new Promise((resolve) => server.listen(path.join('/dev/shm', name), resolve))
  t.after(() => server.close())
  assert.throws(() => new SharedMemory(name, { create: false }), { code: 'ERR_SHM_NOT_A_BLOCK', message: /taken by a socket/ })
})

// What is "this user's" is asked of the OS: a process running as an ordinary user (not uid 0)
// takes its own block with 'if-missing', and another user's not.
test("as an ordinary user, 'if-missing' attaches to that user's own block", { skip: linuxOnly || (!isRoot && 'needs root, to run a process as user nobody') }, (t) => {
  const name = uniqueName('own-as-nobody')
  t.after(() => removeBlock(name))
  const program = `
    const SharedMemory = require(${JSON.stringify(path.join(__dirname, '..'))})
    process.setgid(65534)
    process.setuid(65534)
    const name = process.argv[1]
    const created = new SharedMemory(name, { size: 64 })
    created.write('mine')
    let again
    try {
      const attached = new SharedMemory(name, { size: 64, create: 'if-missing' })
      again = { host: attached.host, text: attached.read() }
      attached.close()
    } catch (error) {
      again = { code: error.code, message: error.message }
    }
    const uid = require('node:fs').statSync('/dev/shm/' + name).uid
    created.close()
    console.log(JSON.stringify({ uid, again, left: SharedMemory.exists(name) }))`
  const run = spawnSync(process.execPath, ['-e', program, name], { encoding: 'utf8', timeout: 30000 })
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout), { uid: 65534, again: { host: false, text: 'mine' }, left: false })
})

test('built-ins replaced by other code never receive the memory of a read-only block', async () => {
  const name = uniqueName('patched')
  const { code, signal, report } = await hostile('patchedGlobals', name)
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, JSON.stringify(report))
  assert.deepEqual(report.result, { text: 'read-only data', copy: 'read' })
})

test("a process's very first copy may be empty", async () => {
  const { code, report } = await hostile('firstCopyEmpty', uniqueName('empty'))
  assert.equal(code, 0, JSON.stringify(report))
  assert.deepEqual(report.result, { lengths: [0, 0], buffers: [true, true] })
})

test('a waitAsync whose signal refuses listeners is stopped, not left to keep the process alive', async () => {
  const { code, signal, report } = await hostile('signalThatRefusesListeners', uniqueName('proxy-signal'), [], { timeoutMs: 10000 })
  assert.deepEqual({ code, signal }, { code: 0, signal: null })
  assert.deepEqual(report.result, { rejected: 'no listeners' })
})

for (const size of [600 * 1024 * 1024, 2 ** 31 + 4096]) {
  test(`a text longer than a string may be (${size} bytes without a NUL) is ERR_SHM_TOO_LARGE, naming the block`, { skip: linuxOnly }, async () => {
    const name = uniqueName('long-text')
    const { code, signal, report } = await hostile('stringTooLong', name, [String(size)], { timeoutMs: 60000 })
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, JSON.stringify(report))
    assert.deepEqual(report.result, {
      name: 'Error',
      code: 'ERR_SHM_TOO_LARGE',
      message: `the text of ${size} bytes at offset 0 of shared memory block "${name}" is longer than a string may be`,
    })
  })
}

test('a name of a megabyte is not echoed whole in the error', () => {
  const error = (() => {
    try {
      new SharedMemory('n'.repeat(1 << 20), { size: 16 })
    } catch (thrown) {
      return thrown
    }
  })()
  assert.equal(error.code, 'ERR_SHM_INVALID_NAME')
  assert.ok(error.message.length < 300, `${error.message.length} characters`)
  assert.match(error.message, /… \(1048576 bytes\)/)
})

for (const [how, which] of [
  ['process.exit()', 'exitHost'],
  ['an uncaught exception', 'throwHost'],
]) {
  test(`a host's names are removed when its process ends through ${how}`, async () => {
    const name = uniqueName('exit')
    try {
      const { messages } = await hostile(which, name)
      assert.deepEqual(messages[0], { created: true })
      // Both of the two blocks it held: each is remembered on its own.
      assert.equal(SharedMemory.exists(name), false)
      assert.equal(SharedMemory.exists(`${name}-second`), false)
    } finally {
      removeBlock(`${name}-second`)
    }
  })
}

test("a worker's host block is removed when the worker ends through process.exit()", async () => {
  const name = uniqueName('worker-exit')
  const { code, report } = await hostile('workerExitHost', name)
  assert.equal(code, 0)
  assert.deepEqual(report.result, { workerExit: 5, exists: false })
})

/** Starts a host in a child process (through `prefix`, a command such as unshare) and waits for it. */
async function startHost(name, prefix = []) {
  if (prefix.length === 0) {
    const host = startChild('hostile.js', ['host', name])
    await host.next((m) => m.ready)
    return { kill: (signal) => host.child.kill(signal), exited: host.exited }
  }
  const child = require('node:child_process').spawn(prefix[0], [...prefix.slice(1), process.execPath, fixture, 'host', name], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', () => reject(new Error('the host exited before it was ready')))
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  return { kill: (signal) => child.kill(signal), exited }
}

for (const signal of ['SIGKILL', 'SIGTERM']) {
  test(`a host killed with ${signal} can be restarted with { reclaim: true }; without it the name stays taken`, async () => {
    const name = uniqueName('reclaim')
    const host = await startHost(name)
    host.kill(signal)
    assert.equal((await host.exited).signal, signal)
    assert.equal(SharedMemory.exists(name), true, 'no code ran: the name stayed')
    assert.throws(() => new SharedMemory(name, { size: 4096 }), { code: 'ERR_SHM_EXISTS' })
    const { report } = await hostile('reclaim', name)
    assert.deepEqual(report.result, { result: { value: { host: true, data: '' } }, existsAfter: false })
  })
}

test('reclaim never takes the name of a live host, even a stopped one (SIGSTOP)', async (t) => {
  const name = uniqueName('alive')
  const host = await startHost(name)
  t.after(() => host.kill('SIGKILL'))
  for (const state of ['running', 'stopped']) {
    if (state === 'stopped') host.kill('SIGSTOP')
    const { report } = await hostile('reclaim', name)
    assert.equal(report.result.result.code, 'ERR_SHM_EXISTS', `${state}: ${JSON.stringify(report)}`)
    assert.match(report.result.result.message, /its creator is alive, or another program or user made it/)
    assert.equal(report.result.existsAfter, true)
  }
  host.kill('SIGCONT')
})

const unshareMissing = (!isRoot || spawnSync('unshare', ['--pid', '--fork', '--kill-child', 'true']).status !== 0) && 'needs root and unshare --pid --kill-child'

test('reclaim never takes the name of a live host in another PID namespace', { skip: linuxOnly || unshareMissing }, async (t) => {
  const name = uniqueName('pidns')
  // --kill-child: the host inside the namespace dies with unshare, which the test kills.
  const host = await startHost(name, ['unshare', '--pid', '--fork', '--kill-child'])
  t.after(() => host.kill('SIGKILL'))
  const { report } = await hostile('reclaim', name)
  assert.equal(report.result.result.code, 'ERR_SHM_EXISTS', JSON.stringify(report))
  host.kill('SIGKILL')
  await host.exited
})

test('reclaim never takes a block another program made (Python)', { skip: process.platform === 'win32' && 'Python shm names differ on Windows' }, async (t) => {
  const name = uniqueName('python')
  const made = spawnSync('python3', ['-c', `from multiprocessing import shared_memory as s, resource_tracker as r
m = s.SharedMemory(${JSON.stringify(name)}, create=True, size=4096)
r.unregister(m._name, 'shared_memory')
m.close()`])
  if (made.status !== 0) return t.skip(`python3 could not make a block: ${made.stderr}`)
  t.after(() => removeBlock(name))
  const { report } = await hostile('reclaim', name)
  assert.equal(report.result.result.code, 'ERR_SHM_EXISTS', JSON.stringify(report))
  assert.equal(report.result.existsAfter, true)
})

test('immediate waitAsync answers awaited in a tight loop cost no more than resolved promises', async () => {
  const name = uniqueName('immediate')
  const { code, report } = await hostile('immediateAnswers', name, [], { timeoutMs: 30000 })
  assert.equal(code, 0, JSON.stringify(report))
  const { calls, heapGrowth, rssGrowth } = report.result
  assert.ok(calls >= 100000, `${calls} calls`)
  // 2.0.0 grew the heap by about 50 bytes per call here (170 MB in 3 s) and RSS by 600 MB.
  assert.ok(heapGrowth < 16 * 1024 * 1024, `heap grew by ${heapGrowth} bytes over ${calls} calls`)
  if (!underAsan) assert.ok(rssGrowth < 64 * 1024 * 1024, `RSS grew by ${rssGrowth} bytes over ${calls} calls`)
})

test('worker.terminate() ends a worker blocked in wait() with an infinite timeout', async () => {
  const name = uniqueName('terminate')
  const { code, report } = await hostile('terminateWaitingWorker', name, [], { timeoutMs: 15000 })
  assert.equal(code, 0, JSON.stringify(report))
  assert.equal(report.result.code, 1)
  // One wait slice (250 ms) and the worker's teardown.
  assert.ok(report.result.terminateMs < 5000, `${report.result.terminateMs} ms`)
})

test('out of descriptors, close() still removes the name, and errors name what failed', { skip: linuxOnly }, async () => {
  const name = uniqueName('emfile')
  const { code, report } = await hostile('outOfDescriptors', name)
  assert.equal(code, 0, JSON.stringify(report))
  const { create, generateId, close, existsAfterClose } = report.result
  assert.equal(create.code, 'ERR_SHM_OS')
  assert.equal(create.message, `shared memory block "${name}-2": Too many open files (os error 24)`)
  assert.deepEqual(generateId, { value: 'string' })
  assert.deepEqual(close, {}, 'close() returned without throwing') // { value: undefined } after IPC
  assert.equal(existsAfterClose, false)
})

for (const waits of ['threads', 'default']) {
  test(`thousands of pending waitAsync under an address-space limit: no abort; past the threads allowed, rejections (${waits})`, { skip: linuxOnly || (underAsan && 'AddressSanitizer cannot start under an address-space limit: it reserves terabytes of shadow memory') }, async () => {
    const name = uniqueName('ulimit-v')
    const run = spawnSync('bash', ['-c', `ulimit -v 3000000 && exec "${process.execPath}" "${fixture}" manyWaitsUnderLimit ${name} 10000`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60000,
      env: { ...process.env, SHARED_MEMORY_WAIT_THREADS: waits === 'threads' ? '1' : undefined },
    })
    // spawnSync has no IPC: the fixture reports on stdout when it has no channel.
    assert.equal(run.signal, null, run.stderr.toString())
    assert.equal(run.status, 0, run.stderr.toString())
    const { result } = JSON.parse(run.stdout.toString().trim().split('\n').pop())
    if (waits === 'default' && waitsInRing) {
      // The kernel's wait ring holds them, with no thread each: no limit is reached, and every
      // one is woken (or sees the change) once.
      assert.deepEqual(result.tally, { ok: 10000 })
      return
    }
    assert.ok(result.tally.ERR_SHM_TOO_MANY_WAITS > 0, JSON.stringify(result))
    assert.equal((result.tally.ok ?? 0) + (result.tally['not-equal'] ?? 0) + result.tally.ERR_SHM_TOO_MANY_WAITS, 10000)
    const [, running] = result.message.match(new RegExp(`^cannot wait on shared memory block "${name}": (\\d+) waitAsync threads are running`))
    // Each wait accepted before the first refusal has a thread of its own: the count says so.
    assert.equal(Number(running), (result.tally.ok ?? 0) + (result.tally['not-equal'] ?? 0), JSON.stringify(result))
  })
}

test('members called on anything but a SharedMemory throw ERR_INVALID_THIS; names the OS would see differently are refused', async () => {
  const { prototype } = SharedMemory
  const members = Reflect.ownKeys(prototype).filter((key) => key !== 'constructor')
  for (const key of members) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, key)
    for (const receiver of [{}, undefined, 5, Object.create(prototype)]) {
      const call = descriptor.get ?? descriptor.set ?? descriptor.value
      let error
      try {
        await call.call(receiver, 0, 0)
      } catch (thrown) {
        error = thrown
      }
      assert.equal(error?.code, 'ERR_INVALID_THIS', `${String(key)} on ${String(receiver)}: ${error}`)
      assert.equal(error.name, 'TypeError')
    }
  }
  assert.throws(() => new SharedMemory('lone\uD800surrogate', { size: 16 }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: 'name must be well-formed Unicode: it has a lone surrogate, which the OS would see as another name',
  })
})
