'use strict'

// What scripts/mutants.sh --recheck runs again for one source file: the
// mutants that survived its finished run and equivalent.txt does not explain.
// Prints a regex of their names (Rust, for cargo-mutants --re), or the lines
// they are on now (JavaScript, as StrykerJS line ranges); nothing if none.
// Usage: node scripts/mutants/survivors.js <result dir> <rust|js> <file>

const fs = require('node:fs')
const path = require('node:path')
const { rustResults, jsResults, readEquivalents } = require('./score')

const [dir, language, file] = process.argv.slice(2)
const explained = readEquivalents()
const root = path.resolve(__dirname, '..', '..')
const survivors = (language === 'rust' ? rustResults(dir) : jsResults(dir, file)).survived.filter((mutant) => !explained.has(mutant.key))

if (language === 'rust') {
  // Names without their line and column, which move as the file changes.
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  if (survivors.length) console.log(survivors.map((mutant) => escape(mutant.key.slice(mutant.key.indexOf(': ') + 2))).join('|'))
} else {
  // The lines where the survivors' source lines are now, each as far as its mutant reaches
  // (StrykerJS takes only the mutants that lie wholly inside a range).
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n')
  const ranges = new Set()
  for (const mutant of survivors) {
    lines.forEach((line, index) => {
      if (line.trim() === mutant.original) ranges.add(`${file}:${index + 1}-${index + 1 + mutant.span}`)
    })
  }
  if (ranges.size) console.log([...ranges].join(','))
}
