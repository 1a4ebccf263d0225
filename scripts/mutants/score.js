'use strict'

// Prints the mutation score of each area and the mutants that survived, from
// the results scripts/mutants.sh left in its output directory.
// Usage: node scripts/mutants/score.js <output dir> [area ...]
// Exit status 1 when a survivor is not explained in equivalent.txt.
//
// Score = caught / (caught + survived), over viable mutants: ones that do not
// build (Rust "unviable") are not counted, and survivors equivalent.txt lists
// as equivalent (no test can tell them from the original) are left out of both.

const fs = require('node:fs')
const path = require('node:path')
const { areas } = require('./areas')

const root = path.resolve(__dirname, '..', '..')

/** "key | why" lines; the key is what this script prints for a survivor. */
function readEquivalents() {
  const text = fs.readFileSync(path.join(__dirname, 'equivalent.txt'), 'utf8')
  const explained = new Map()
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue
    const bar = line.lastIndexOf(' | ')
    if (bar < 0) throw new Error(`equivalent.txt: no " | reason" in: ${line}`)
    explained.set(line.slice(0, bar).trim(), line.slice(bar + 3).trim())
  }
  return explained
}

/** Rust: cargo-mutants' outcome lists. Keys drop line and column, which move with edits. */
function rustResults(dir) {
  // earlier/: what an interrupted run judged before scripts/mutants.sh resumed it.
  const list = (name) =>
    ['mutants.out', 'earlier'].flatMap((part) => {
      const file = path.join(dir, part, name)
      return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
    })
  const key = (line) => line.replace(/^([^:]+):\d+:\d+: /, '$1: ')
  const caught = [...list('caught.txt'), ...list('timeout.txt')]
  const all = [...caught, ...list('missed.txt'), ...list('unviable.txt')]
  return {
    caught: caught.length,
    caughtKeys: new Set(caught.map(key)),
    allKeys: new Set(all.map(key)),
    survived: list('missed.txt').map((line) => ({ key: key(line), where: line })),
  }
}

/** JavaScript: StrykerJS's JSON report. Keys name the mutator, the replacement and the source line. */
function jsResults(dir, file) {
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'))
  const source = fs.readFileSync(path.join(root, file), 'utf8').split('\n')
  let caught = 0
  const caughtKeys = new Set()
  const allKeys = new Set()
  const survived = []
  for (const [name, entry] of Object.entries(report.files)) {
    const lines = entry.source ? entry.source.split('\n') : source
    for (const mutant of entry.mutants) {
      const line = mutant.location.start.line
      const original = (lines[line - 1] || '').trim()
      const replacement = (mutant.replacement || '').replace(/\s+/g, ' ')
      const key = `${name}: ${mutant.mutatorName} -> ${replacement} in ${original}`
      allKeys.add(key)
      if (mutant.status === 'Killed' || mutant.status === 'Timeout') {
        caught++
        caughtKeys.add(key)
      } else if (mutant.status === 'Survived' || mutant.status === 'NoCoverage') {
        const span = (mutant.location.end?.line ?? line) - line
        survived.push({ key, original, span, where: `${name}:${line}: ${mutant.mutatorName} -> ${replacement}` })
      }
    }
  }
  return { caught, caughtKeys, allKeys, survived }
}

function main() {
  const markdown = process.argv.includes('--markdown')
  const [outDir, ...wanted] = process.argv.slice(2).filter((arg) => arg !== '--markdown')
  const explained = readEquivalents()
  const rows = []
  const unexplained = []
  const equivalentSeen = []
  const gone = []
  for (const area of wanted.length ? wanted : Object.keys(areas)) {
    let caught = 0
    let survived = 0
    let equivalent = 0
    const missing = []
    for (const language of ['rust', 'js']) {
      for (const file of areas[area][language]) {
        const dir = path.join(outDir, language, area, file.replace(/\//g, '_'))
        if (!fs.existsSync(path.join(dir, 'done'))) {
          missing.push(file)
          continue
        }
        const result = language === 'rust' ? rustResults(dir) : jsResults(dir, file)
        caught += result.caught
        // Survivors judged again (--recheck) and caught then count as caught; a survivor the
        // recheck looked for and no longer found went with the code it was in.
        const recheck = path.join(dir, 'recheck')
        const later = fs.existsSync(path.join(recheck, 'done')) ? (language === 'rust' ? rustResults(recheck) : jsResults(recheck, file)) : null
        for (const mutant of result.survived) {
          if (later?.caughtKeys.has(mutant.key)) {
            caught++
          } else if (explained.has(mutant.key)) {
            equivalent++
            equivalentSeen.push([mutant.key, explained.get(mutant.key)])
          } else if (later && !later.allKeys.has(mutant.key)) {
            gone.push(mutant.key)
          } else {
            survived++
            unexplained.push(`${area}  ${mutant.where}\n    key: ${mutant.key}`)
          }
        }
      }
    }
    const viable = caught + survived
    const score = viable ? ((100 * caught) / viable).toFixed(1) + ' %' : '-'
    rows.push({ area, caught, survived, equivalent, score, 'files not run': missing.join(' ') || '-' })
  }

  if (markdown) {
    console.log('| area | caught | survived | equivalent | score | files not run yet |')
    console.log('|---|---|---|---|---|---|')
    for (const row of rows) console.log(`| ${row.area} | ${row.caught} | ${row.survived} | ${row.equivalent} | ${row.score} | ${row['files not run']} |`)
    console.log('')
    for (const [key, why] of equivalentSeen) console.log(`- \`${key}\`: ${why}`)
  } else {
    console.table(rows)
  }
  const total = rows.reduce((sum, row) => ({ caught: sum.caught + row.caught, survived: sum.survived + row.survived }), {
    caught: 0,
    survived: 0,
  })
  if (total.caught + total.survived) {
    console.log(`overall: ${total.caught} caught of ${total.caught + total.survived} viable mutants (${((100 * total.caught) / (total.caught + total.survived)).toFixed(1)} %), ${equivalentSeen.length} equivalent left out`)
  }
  if (gone.length) console.log(`\n${gone.length} survivors went with the code they were in:\n${gone.join('\n')}`)
  if (unexplained.length) {
    console.log(`\n${unexplained.length} surviving mutants (not in scripts/mutants/equivalent.txt):`)
    console.log(unexplained.join('\n'))
    process.exitCode = 1
  }
}

if (require.main === module) main()

module.exports = { readEquivalents, rustResults, jsResults }
