'use strict'
// Where the kernel has no io_uring futex waits (Linux before 6.7, io_uring turned off or refused
// by a seccomp profile, every other system), waitAsync takes a thread per pending wait. This
// file runs the wait tests again with SHARED_MEMORY_WAIT_THREADS set, which takes that path here
// too, so both are tested on every Linux run.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { waitsInRing } = require('./helpers')

const files = ['wait.test.js', 'audit.test.js']
const underAsan = /asan/.test(process.env.LD_PRELOAD ?? '')

const skip =
  (!waitsInRing && 'waitAsync takes threads here anyway: the other files test that path') ||
  (underAsan && 'not again under AddressSanitizer, to keep the CI run under 15 minutes: the plain run tests this path')

test('the wait tests pass with a thread per waitAsync', { skip, timeout: 600000 }, () => {
  // TAP asked for by name: Node 24 reports in spec also when not on a terminal (20 and 22 in TAP).
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files.map((file) => path.join(__dirname, file))], {
    // (Without NODE_TEST_CONTEXT, which would make the inner runner report to this one.)
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, SHARED_MEMORY_WAIT_THREADS: '1' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
  const summary = run.stdout.split('\n').filter((line) => /^# (tests|pass|fail|skipped)/.test(line))
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`)
  // The run took the thread path: the test that counts waiter threads ran instead of skipping.
  assert.match(run.stdout, /^ok \d+ - waitAsync calls started one after another each get a thread, idle ones first$/m, summary.join('\n'))
})
