// The ES module entry: default and named imports give the CommonJS class itself.
import test from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

import shared_memory from '@markusjx/shared_memory'
import { SharedMemory, Channel, InPlaceMessage } from '@markusjx/shared_memory'

const require = createRequire(import.meta.url)

test('import default and import { SharedMemory } are the class require() returns', () => {
  assert.equal(shared_memory, SharedMemory)
  assert.equal(shared_memory, require('@markusjx/shared_memory'))
  assert.equal(typeof SharedMemory.generateId, 'function')
})

test('import { Channel, InPlaceMessage } are the classes the CommonJS entry carries', () => {
  assert.equal(Channel, require('@markusjx/shared_memory').Channel)
  assert.equal(typeof Channel, 'function')
  assert.equal(InPlaceMessage, Channel.InPlaceMessage)
  assert.equal(typeof InPlaceMessage, 'function')
})

test('a block made through the ES module entry works', () => {
  const memory = new SharedMemory(`t-esm-${process.pid}-${SharedMemory.generateId().slice(0, 8)}`, { size: 64 })
  try {
    memory.data = 'from an ES module'
    assert.equal(memory.read(), 'from an ES module')
    assert.ok(memory instanceof shared_memory)
  } finally {
    memory.close()
  }
})
