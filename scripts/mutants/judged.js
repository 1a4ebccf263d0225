'use strict'

// What a resumed Rust run of scripts/mutants.sh leaves out: the mutants an
// interrupted run of the file judged already (the lists in <dir>/earlier), as
// a regex for cargo-mutants --exclude-re. The unit tests' helpers are in it
// too, as in .cargo/mutants.toml, in case the option replaces the file's list.
// Usage: node scripts/mutants/judged.js <result dir>

const fs = require('node:fs')
const path = require('node:path')

const dir = path.join(process.argv[2], 'earlier')
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const names = new Set()
for (const list of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
  for (const line of fs.readFileSync(path.join(dir, list), 'utf8').split('\n').filter(Boolean)) {
    // Without line and column, which move as the file changes: "file:line:col: what".
    names.add(`: ${escape(line.replace(/^[^:]+:\d+:\d+: /, ''))}$`)
  }
}
console.log(['tests::', ...names].join('|'))
