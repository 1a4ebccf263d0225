'use strict'

// Judges one mutant: runs the test files of an area (scripts/mutants/areas.js)
// one at a time, fast ones first, and exits non-zero at the first that fails.
// Usage: node scripts/mutants/judge.js <area>
// The addon under test is the one NAPI_RS_NATIVE_LIBRARY_PATH names (a mutant's
// build), else the tree's own build.

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { areas } = require('./areas')

const root = path.resolve(__dirname, '..', '..')
const area = areas[process.argv[2]]
if (!area) {
  console.error(`usage: node scripts/mutants/judge.js <${Object.keys(areas).join('|')}>`)
  process.exit(2)
}

// A mutant may make a test hang; cargo-mutants and Stryker time the whole run
// out too, but a hang found here names its file.
const perFileTimeoutMs = 120_000

for (const file of area.tests) {
  const result = spawnSync(process.execPath, ['--test', path.join('__test__', file)], {
    cwd: root,
    encoding: 'utf8',
    timeout: perFileTimeoutMs,
    killSignal: 'SIGKILL',
  })
  if (result.status !== 0) {
    const why = result.error ? result.error.message : result.signal ? `killed by ${result.signal}` : `exit ${result.status}`
    // The first failing test's lines are enough to see what caught the mutant.
    const failing = (result.stdout || '').split('\n').filter((line) => /^not ok|^# fail|error:|code:/.test(line.trim()))
    console.log(`judge: caught by ${file} (${why})`)
    console.log(failing.slice(0, 12).join('\n'))
    process.exit(1)
  }
}
console.log(`judge: all ${area.tests.length} test files passed`)
