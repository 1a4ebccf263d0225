'use strict'

// Copies the outcome of each finished file of a mutation run (scripts/mutants.sh) into the
// repository's record, scripts/mutants/last-run/, so that the score survives the checkout it was
// measured in: `node scripts/mutants/score.js scripts/mutants/last-run` prints it again.
// Usage: node scripts/mutants/keep.js [<output dir>]   (default mutants.out)
//
// Kept: cargo-mutants' outcome lists (caught, missed, timeout, unviable) and StrykerJS's JSON
// report, for the run, its resumed part (earlier/) and its recheck (recheck/); not the logs, the
// diffs or the trees. A file's record is replaced whole by its latest finished run.

const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')
const from = path.resolve(process.argv[2] || path.join(root, 'mutants.out'))
const to = path.join(__dirname, 'last-run')
const LISTS = ['caught.txt', 'missed.txt', 'timeout.txt', 'unviable.txt']

/** Copies what score.js reads from one result directory `dir` (a file's run, or its recheck). */
function copyOutcome(dir, target) {
  fs.mkdirSync(target, { recursive: true })
  fs.writeFileSync(path.join(target, 'done'), '')
  for (const part of ['mutants.out', 'earlier']) {
    for (const list of LISTS) {
      const file = path.join(dir, part, list)
      if (!fs.existsSync(file)) continue
      fs.mkdirSync(path.join(target, part), { recursive: true })
      fs.copyFileSync(file, path.join(target, part, list))
    }
  }
  if (fs.existsSync(path.join(dir, 'report.json'))) {
    // The report holds each mutated file's source, which score.js needs for the lines' text.
    fs.copyFileSync(path.join(dir, 'report.json'), path.join(target, 'report.json'))
  }
}

let kept = 0
// <from>/[changed|selected|unit-only/]<language>/<area>/<file>: every directory with a `done`.
function walk(dir, relative) {
  if (fs.existsSync(path.join(dir, 'done'))) {
    const target = path.join(to, relative)
    fs.rmSync(target, { recursive: true, force: true })
    copyOutcome(dir, target)
    if (fs.existsSync(path.join(dir, 'recheck', 'done'))) copyOutcome(path.join(dir, 'recheck'), path.join(target, 'recheck'))
    kept++
    return
  }
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    // The judges' trees (rust-tree.<pid>, js-tree.<pid>) are copies of the repository.
    if (entry.isDirectory() && !/-tree\.\d+$/.test(entry.name)) walk(path.join(dir, entry.name), path.join(relative, entry.name))
  }
}

walk(from, '')
console.log(`kept the outcome of ${kept} finished files in ${path.relative(root, to)}`)
