'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')

const { SharedMemory, uniqueName, thrown } = require('./helpers')

test('the module is the class, also as .default and .SharedMemory', () => {
  const exported = require('..')
  assert.equal(typeof exported, 'function')
  assert.equal(exported.default, exported)
  assert.equal(exported.SharedMemory, exported)
  // The typings declare these as values of the namespace: each must exist at run time.
  assert.equal(typeof exported.Channel, 'function')
  assert.equal(exported.InPlaceMessage, exported.Channel.InPlaceMessage)
  assert.equal(typeof exported.InPlaceMessage, 'function')
  const memory = new exported(uniqueName(), 8)
  assert.ok(memory instanceof exported)
})

test('generateId gives 26 characters of [a-z2-7], unique every time', () => {
  const ids = new Set()
  for (let i = 0; i < 2000; i++) {
    const id = SharedMemory.generateId()
    assert.match(id, /^[a-z2-7]{26}$/)
    ids.add(id)
  }
  assert.equal(ids.size, 2000)
  assert.match(SharedMemory.generateId(true), /^[a-z2-7]{26}$/)
})

test('a generated id fits macOS, whose shm names are at most 30 bytes', () => {
  assert.ok(SharedMemory.generateId().length <= 30)
})

test('a generated id can be used to create a block', () => {
  const id = SharedMemory.generateId()
  const memory = new SharedMemory(id, 16)
  assert.equal(memory.name, id)
  memory.data = 'ok'
  assert.equal(memory.data, 'ok')
})

test('generateIdAsync resolves to a fresh id', async () => {
  const pending = SharedMemory.generateIdAsync()
  assert.ok(pending instanceof Promise)
  const ids = await Promise.all([pending, SharedMemory.generateIdAsync(false), SharedMemory.generateIdAsync(true)])
  for (const id of ids) assert.match(id, /^[a-z2-7]{26}$/)
  assert.equal(new Set(ids).size, 3)
})

test('generateId and generateIdAsync refuse a non-boolean global', async () => {
  for (const bad of [1, 'yes', null, {}]) {
    const error = thrown(() => SharedMemory.generateId(bad))
    assert.ok(error instanceof TypeError)
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE')
    assert.throws(() => SharedMemory.generateIdAsync(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  }
})
