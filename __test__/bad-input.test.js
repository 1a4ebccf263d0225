'use strict'

// Every member, called with every kind of wrong argument: each call must end
// with its exact error class and code (or succeed where the value is fine),
// never with a crash, a hang or a silent truncation.

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName } = require('./helpers')

const isLinux = process.platform === 'linux'
const T = [TypeError, 'ERR_INVALID_ARG_TYPE']
const R = [RangeError, 'ERR_OUT_OF_RANGE']
const NAME = [Error, 'ERR_SHM_INVALID_NAME']
const BIG = [Error, 'ERR_SHM_TOO_LARGE']
const OK = 'ok'

/** Every kind of value, by label. */
const values = {
  undefined: undefined,
  null: null,
  NaN: NaN,
  Infinity: Infinity,
  '-Infinity': -Infinity,
  '-0': -0,
  '1.5': 1.5,
  '2^53+2': 2 ** 53 + 2,
  '-1': -1,
  string: 'x',
  boolean: true,
  object: {},
  array: [],
  function: () => {},
  symbol: Symbol('x'),
  bigint: 8n,
  Buffer: Buffer.alloc(1),
}

/** How the messages of ERR_INVALID_ARG_TYPE end: `got <this>`. */
function typeOf(value) {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  const type = typeof value
  return type === 'object' ? 'an object' : `a ${type}`
}

/** Runs `call` (on `value`, if given) and describes how it ended: 'ok', or [class, code]. */
function outcome(call, ...value) {
  try {
    const result = call(...value)
    if (result instanceof SharedMemory) result.close()
    return OK
  } catch (error) {
    // A wrong type names the type it got, whichever layer threw (lib/errors.js or src/js.rs).
    // (A size left out when creating says so instead.)
    const named = value.length === 0 || error.message.endsWith(`, got ${typeOf(value[0])}`) || error.message.endsWith('to create a block (or set create: false to attach)')
    if (error.code === 'ERR_INVALID_ARG_TYPE' && !named) {
      return [error.constructor, `${error.code} with the message "${error.message}"`]
    }
    return [error.constructor, error.code]
  }
}

async function asyncOutcome(call) {
  try {
    await call()
    return OK
  } catch (error) {
    return [error.constructor, error.code]
  }
}

const show = (o) => (o === OK ? 'ok' : `${o[0].name} ${o[1]}`)

/** Checks each label of `values` against `expected` (label -> outcome; `rest` for the others). */
function table(member, call, expected, failures) {
  for (const [label, value] of Object.entries(values)) {
    const want = label in expected ? expected[label] : expected.rest
    const got = outcome(call, value)
    if (show(got) !== show(want)) failures.push(`${member}(${label}): expected ${show(want)}, got ${show(got)}`)
  }
}

test('the constructor', () => {
  const failures = []
  const name = uniqueName()
  table('new SharedMemory(name, size)', (v) => new SharedMemory(uniqueName(), v), {
    NaN: R, Infinity: R, '-Infinity': R, '-0': R, '1.5': R, '2^53+2': R, '-1': R,
    // An object is the options form, which needs a size to create.
    rest: T,
  }, failures)
  const named = (v) => (typeof v === 'string' ? uniqueName() : v)
  table('new SharedMemory(name)', (v) => new SharedMemory(named(v), 8), { string: OK, rest: T }, failures)
  table('new SharedMemory(name, 8, global)', (v) => new SharedMemory(uniqueName(), 8, v), { undefined: OK, boolean: OK, rest: T }, failures)
  table('new SharedMemory(name, 8, false, host)', (v) => new SharedMemory(uniqueName(), 8, false, v), { undefined: OK, boolean: OK, rest: T }, failures)
  table('new SharedMemory(name, { size })', (v) => new SharedMemory(uniqueName(), { size: v }), {
    NaN: R, Infinity: R, '-Infinity': R, '-0': R, '1.5': R, '2^53+2': R, '-1': R, rest: T,
  }, failures)
  table('new SharedMemory(name, { size: 8, mode })', (v) => new SharedMemory(uniqueName(), { size: 8, mode: v }), {
    undefined: OK, '-0': OK, NaN: R, Infinity: R, '-Infinity': R, '1.5': R, '2^53+2': R, '-1': R, rest: T,
  }, failures)
  table('new SharedMemory(name, { size: 8, create })', (v) => new SharedMemory(uniqueName(), { size: 8, create: v }), {
    undefined: OK, boolean: OK, string: [TypeError, 'ERR_INVALID_ARG_VALUE'], rest: T,
  }, failures)
  for (const bad of ['', 'a/b', '/abs', '../x', '..', '.', 'a\\b', 'nul\0', 'x'.repeat(300)]) {
    const got = outcome(() => new SharedMemory(bad, 8))
    if (show(got) !== show(NAME)) failures.push(`name ${JSON.stringify(bad)}: ${show(got)}`)
  }
  assert.equal(outcome(() => new SharedMemory(`${name}-ünï-名前`, 8)), OK, 'non-ASCII names are fine')
  assert.deepEqual(failures, [])
})

test('sizes beyond memory and beyond the address space fail cleanly', { skip: !isLinux && 'the error differs per OS; Linux reserves the pages' }, () => {
  for (const size of [2 ** 40, 2 ** 48, 2 ** 53 - 1]) {
    const name = uniqueName()
    assert.deepEqual(outcome(() => new SharedMemory(name, size)), [Error, 'ERR_SHM_NO_SPACE'], String(size))
    assert.equal(SharedMemory.exists(name), false)
  }
})

test('the static members', async () => {
  const failures = []
  table('generateId', (v) => SharedMemory.generateId(v), { undefined: OK, boolean: OK, rest: T }, failures)
  const named = (v) => (typeof v === 'string' ? uniqueName() : v)
  table('exists', (v) => SharedMemory.exists(named(v)), { string: OK, rest: T }, failures)
  table('unlink', (v) => SharedMemory.unlink(named(v)), { string: OK, rest: T }, failures)
  table('exists(name, global)', (v) => SharedMemory.exists(uniqueName(), v), { undefined: OK, boolean: OK, rest: T }, failures)
  for (const [label, value] of Object.entries(values)) {
    const want = label === 'undefined' || label === 'boolean' ? OK : T
    const got = await asyncOutcome(() => SharedMemory.generateIdAsync(value))
    if (show(got) !== show(want)) failures.push(`generateIdAsync(${label}): ${show(got)}`)
  }
  assert.deepEqual(failures, [])
})

test('the instance members', async () => {
  const failures = []
  const memory = new SharedMemory(uniqueName(), 8)
  const offsets = { undefined: OK, '-0': OK, NaN: R, Infinity: R, '-Infinity': R, '1.5': R, '2^53+2': R, '-1': R, rest: T }
  table('data =', (v) => { memory.data = v }, { string: OK, rest: T }, failures)
  table('buffer =', (v) => { memory.buffer = v }, { Buffer: OK, rest: T }, failures)
  table('write', (v) => memory.write(v), { string: OK, Buffer: OK, rest: T }, failures)
  table('write(s, offset)', (v) => memory.write('x', v), offsets, failures)
  table('read(offset)', (v) => memory.read(v), offsets, failures)
  table('read(0, length)', (v) => memory.read(0, v), offsets, failures)
  table('readBuffer(offset)', (v) => memory.readBuffer(v), offsets, failures)
  table('readBuffer(0, length)', (v) => memory.readBuffer(0, v), offsets, failures)
  table('readInto', (v) => memory.readInto(v), { Buffer: OK, rest: T }, failures)
  table('readInto(target, offset)', (v) => memory.readInto(Buffer.alloc(1), v), offsets, failures)
  table('wait(offset)', (v) => memory.wait(v, 1, 0), offsets, failures)
  // expected is coerced like Atomics.wait does: only what ToNumber refuses fails, with a code.
  table('wait(0, expected)', (v) => memory.wait(0, v, 0), { symbol: T, bigint: T, rest: OK }, failures)
  table('wait(0, 1, timeout)', (v) => memory.wait(0, 1, v), { undefined: OK, NaN: OK, Infinity: OK, '-Infinity': OK, '-0': OK, '1.5': OK, '2^53+2': OK, '-1': OK, rest: T }, failures)
  table('notify(offset)', (v) => memory.notify(v), offsets, failures)
  table('notify(0, count)', (v) => memory.notify(0, v), { undefined: OK, Infinity: OK, '-0': OK, '2^53+2': OK, NaN: R, '-Infinity': R, '1.5': R, '-1': R, rest: T }, failures)
  for (const [label, value] of Object.entries(values)) {
    const want = offsets[label] ?? offsets.rest
    const got = await asyncOutcome(() => memory.waitAsync(value, 1, 0))
    if (show(got) !== show(want)) failures.push(`waitAsync(${label}): ${show(got)}`)
  }
  for (const [label, value] of Object.entries(values)) {
    const want = label === 'undefined' ? OK : T
    const got = await asyncOutcome(() => memory.waitAsync(0, 1, 0, value))
    if (show(got) !== show(want)) failures.push(`waitAsync(0, 1, 0, ${label}): ${show(got)}`)
  }
  // Offsets and data at and past the end.
  assert.deepEqual(outcome(() => memory.write('', 8)), OK)
  assert.deepEqual(outcome(() => memory.write('a', 8)), BIG)
  assert.deepEqual(outcome(() => memory.write('x', 9)), R)
  assert.deepEqual(outcome(() => memory.read(8, 1)), R)
  assert.deepEqual(outcome(() => memory.wait(8, 0, 0)), R)
  assert.deepEqual(outcome(() => memory.wait(2, 0, 0)), R)
  assert.deepEqual(outcome(() => { memory.data = 'x'.repeat(9) }), BIG)
  assert.deepEqual(outcome(() => { memory.buffer = Buffer.alloc(9) }), BIG)
  assert.deepEqual(failures, [])
  memory.close()
})

test('a valueOf called by wait that closes the block ends the wait with ERR_SHM_CLOSED, never a crash', async () => {
  const name = uniqueName()
  const memory = new SharedMemory(name, 16)
  const sneaky = { valueOf: () => (memory.close(), 0) }
  assert.throws(() => memory.wait(0, sneaky, 0), { code: 'ERR_SHM_CLOSED', message: new RegExp(`"${name}" is closed`) })
  assert.equal(memory.closed, true)
  assert.equal(SharedMemory.exists(name), false, 'the close() in valueOf did its job')
  const other = new SharedMemory(uniqueName(), 16)
  const sneakyAsync = { valueOf: () => (other.close(), 0) }
  await assert.rejects(other.waitAsync(0, sneakyAsync, 0), { code: 'ERR_SHM_CLOSED' })
  assert.equal(other.closed, true)
})
