'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

// A full /dev/shm, for real: the fixture runs in a private mount namespace
// where /dev/shm is a fresh 8 MiB tmpfs (Docker gives containers 64 MB).
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const hasUnshare = process.platform === 'linux' && spawnSync('unshare', ['--version']).status === 0
const skip =
  process.platform !== 'linux'
    ? '/dev/shm is a size-limited tmpfs only on Linux'
    : !isRoot
      ? 'mounting a small tmpfs on /dev/shm needs root'
      : !hasUnshare && 'unshare(1) is not installed'

test('a block larger than the free /dev/shm is ERR_SHM_NO_SPACE, not a SIGBUS, and leaves nothing', { skip }, () => {
  const fixture = path.join(__dirname, 'fixtures', 'no-space.js')
  const script = `mount -t tmpfs -o size=8m tmpfs /dev/shm && exec "${process.execPath}" "${fixture}"`
  const run = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8', timeout: 30000 })
  assert.equal(run.signal, null, `killed by ${run.signal}: ${run.stderr}`)
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout), {
    tooBig: 'ERR_SHM_NO_SPACE',
    leftAfterTooBig: [],
    fits: 'created',
    filled: true,
    second: 'ERR_SHM_NO_SPACE',
    leftAfterSecond: ['fits'],
    leftAtEnd: [],
  })
})

// A /dev/shm where this user may look up no name (mode 000, as user nobody): every random name
// seems taken. generateId must give up with an error instead of trying for ever. The addon is
// loaded before the process drops to nobody (it may sit where nobody cannot read, as under ASan).
test('generateId and generateIdAsync give up with ERR_SHM_OS where every name seems taken', { skip }, () => {
  const program = `
    const SharedMemory = require(${JSON.stringify(path.join(__dirname, '..'))})
    process.setgid(65534)
    process.setuid(65534)
    let sync
    try { SharedMemory.generateId() } catch (error) { sync = [error.code, error.message] }
    SharedMemory.generateIdAsync().then(
      () => console.log(JSON.stringify({ sync, async: 'resolved' })),
      (error) => console.log(JSON.stringify({ sync, async: [error.code, error.message, error.cause?.message] })))`
  const script = `mount -t tmpfs -o mode=000 tmpfs /dev/shm && exec "${process.execPath}" -e "$1"`
  const run = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh', program], { encoding: 'utf8', timeout: 30000 })
  assert.equal(run.status, 0, run.stderr)
  const message = 'cannot generate a shared memory block name: no unused name found in 16 random tries'
  const cause = 'no unused name found in 16 random tries'
  assert.deepEqual(JSON.parse(run.stdout), { sync: ['ERR_SHM_OS', message], async: ['ERR_SHM_OS', message, cause] })
})

// The largest channel asks for 1 GiB and more of /dev/shm: its capacity is accepted, and the OS
// refuses the room (an 8 MiB tmpfs here), while one byte more is a RangeError before anything is
// asked of the OS.
test('the largest channel capacity is accepted (the OS refuses the room here), one byte more is a RangeError', { skip }, () => {
  const program = `
    const { Channel } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const attempt = (capacity) => { try { new Channel('largest', { capacity }).close(); return 'created' } catch (error) { return error.code } }
    console.log(JSON.stringify({ largest: attempt(2 ** 30 - 16), larger: attempt(2 ** 30 - 15), left: require('node:fs').readdirSync('/dev/shm') }))`
  const script = `mount -t tmpfs -o size=8m tmpfs /dev/shm && exec "${process.execPath}" -e "$1"`
  const run = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh', program], { encoding: 'utf8', timeout: 30000 })
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout), { largest: 'ERR_SHM_NO_SPACE', larger: 'ERR_OUT_OF_RANGE', left: [] })
})
