'use strict'
// `npm test` and the Windows suite: runs `node --test` on every test file (*.test.js, .mjs, .cjs)
// below the folders named (default __test__), naming each file. Node 20 searched a folder named
// on the command line; from Node 21 the arguments are glob patterns, and Node 22.23 fails on a
// folder ("Cannot find module"). A shell cannot expand the pattern for it either: npm runs
// scripts through cmd.exe on Windows. Arguments that start with "-" go to node --test.
//   node scripts/run-tests.js [NODE_TEST_OPTION ...] [FOLDER_OR_FILE ...]

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const args = process.argv.slice(2)
const options = args.filter((arg) => arg.startsWith('-'))
const folders = args.filter((arg) => !arg.startsWith('-'))

/**
 * The test files below `folder` (or `folder` itself, a file), sorted, as node --test would find
 * them; with "/" between names also on Windows, where node --test could read a backslash in a
 * pattern as an escape.
 */
function testFiles(folder) {
  if (fs.statSync(folder).isFile()) return [folder]
  return fs
    .readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.test\.[cm]?js$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name).split(path.sep).join('/'))
    .sort()
}

const files = (folders.length > 0 ? folders : ['__test__']).flatMap(testFiles)
if (files.length === 0) {
  console.error(`no test files in ${folders.join(', ') || '__test__'}`)
  process.exit(1)
}
const run = spawnSync(process.execPath, ['--test', ...options, ...files], { stdio: 'inherit' })
if (run.error) throw run.error
process.exit(run.status ?? 1)
