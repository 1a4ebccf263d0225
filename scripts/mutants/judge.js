'use strict'

// Judges one mutant: runs the test files of an area (scripts/mutants/areas.js)
// one at a time, fast ones first, and exits non-zero at the first that fails.
// Usage: node scripts/mutants/judge.js <area>
// The addon under test is the one NAPI_RS_NATIVE_LIBRARY_PATH names (a mutant's
// build), else the tree's own build.

const { spawn, execFileSync } = require('node:child_process')
const path = require('node:path')
const { areas } = require('./areas')

const root = path.resolve(__dirname, '..', '..')
const area = areas[process.argv[2]]
if (!area) {
  console.error(`usage: node scripts/mutants/judge.js <${Object.keys(areas).join('|')}>`)
  process.exit(2)
}

// A mutant may make a test hang; cargo-mutants and Stryker time the whole run
// out too, but a hang found here names its file. An area whose files are quick
// says how long one may take.
const perFileTimeoutMs = area.fileTimeoutMs ?? 120_000

/** The processes below `pid`, children first found first (`node --test` runs each file in a child). */
function descendants(pid) {
  const found = []
  const queue = [pid]
  while (queue.length) {
    const parent = queue.shift()
    let children = ''
    try {
      children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(parent)], { encoding: 'utf8' })
    } catch {
      // ps exits 1 when there are none.
    }
    for (const child of children.split('\n').map(Number).filter(Boolean)) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/** Kills a test run and everything it started: a hung file's helpers must not outlive the judge. */
function killTree(pid) {
  // Listed before any is killed: an orphan is reparented and could no longer be found.
  for (const target of [pid, ...descendants(pid)]) {
    try {
      process.kill(target, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', path.join('__test__', file)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (text) => (stdout += text))
    child.stderr.resume()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killTree(child.pid)
    }, perFileTimeoutMs)
    // cargo-mutants and Stryker stop a judge that runs too long with a signal: the test run goes too.
    const stop = () => {
      killTree(child.pid)
      process.exit(1)
    }
    process.once('SIGTERM', stop).once('SIGINT', stop)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      process.off('SIGTERM', stop).off('SIGINT', stop)
      resolve({ status, signal, timedOut, stdout })
    })
  })
}

async function main() {
  for (const file of area.tests) {
    const result = await runFile(file)
    if (result.status !== 0) {
      const why = result.timedOut ? `timed out after ${perFileTimeoutMs / 1000} s` : result.signal ? `killed by ${result.signal}` : `exit ${result.status}`
      // The failing tests' reports (TAP's YAML block after each "not ok"), as far as they go: a
      // baseline that fails must say why.
      const lines = result.stdout.split('\n')
      const failing = []
      lines.forEach((line, index) => {
        if (!/^\s*not ok/.test(line) || /# SKIP/.test(line)) return
        failing.push(line)
        for (let next = index + 1; next < lines.length && next < index + 40 && !/^\s*(ok|not ok) /.test(lines[next]); next++) {
          if (!/^\s+at /.test(lines[next])) failing.push(lines[next])
        }
      })
      console.log(`judge: caught by ${file} (${why})`)
      console.log(failing.slice(0, 80).join('\n'))
      process.exit(1)
    }
  }
  console.log(`judge: all ${area.tests.length} test files passed`)
}

main()
