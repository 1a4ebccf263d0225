'use strict'

// The areas a mutation run is split into (docs/testing.md): which source files
// each one mutates, and which test files judge its mutants. The judge runs the
// test files in this order and stops at the first that fails, so the fast
// files come first and a caught mutant costs seconds; a surviving mutant costs
// the whole list.

// Under five seconds each here, together about twenty. The lock's file first: the
// lock's code (lib/, src/lock.rs, the owners' marks) has mutants only it catches.
const fast = [
  'lock.test.js',
  'module.test.js',
  'bad-input.test.js',
  'errors.test.js',
  'offsets.test.js',
  'memory.test.js',
  'data-path.test.js',
  'no-space.test.js',
  'esm.test.mjs',
  'lifecycle.test.js',
  'processes.test.js',
  'audit.test.js',
  'python.test.js',
  'load.test.js',
  'view.test.js',
  'random.test.js',
  'faults.test.js',
  'options.test.js',
]

const areas = {
  'data-path': {
    rust: ['src/view.rs', 'src/js.rs'],
    js: ['lib/shared-memory.js', 'lib/memory.js', 'lib/bytes.js', 'lib/pool.js'],
    // hostile.test.js: calls on anything but a SharedMemory, texts longer than a string may be.
    tests: [...fast, 'close.test.js', 'wait.test.js', 'hostile.test.js'],
  },
  lifecycle: {
    rust: ['src/block.rs', 'src/shared_memory.rs', 'src/options.rs', 'src/id.rs', 'src/error.rs'],
    js: ['lib/errors.js'],
    tests: [...fast, 'close.test.js', 'hostile.test.js', 'wait.test.js', 'leaks.test.js'],
  },
  waiting: {
    rust: ['src/wait.rs', 'src/os/watch.rs', 'src/os/futex_linux.rs', 'src/os/wait_ring_linux.rs', 'src/lock.rs'],
    js: [],
    // hostile.test.js: the waiter threads' budget under an address-space limit.
    // wait-threads.test.js: waitAsync on threads, where this kernel would use the wait ring.
    tests: [...fast, 'wait.test.js', 'close.test.js', 'hostile.test.js', 'wait-threads.test.js'],
  },
  'os-layer': {
    rust: ['src/os/unix.rs', 'src/os/unix_linux.rs', 'src/os/mod.rs', 'src/os/owners_linux.rs'],
    js: [],
    tests: [...fast, 'close.test.js', 'hostile.test.js', 'wait.test.js', 'leaks.test.js', 'wait-threads.test.js'],
  },
  // The message channel: JavaScript only (lib/channel.js runs over the block's view, locks and
  // waits; the Rust it uses is judged in the areas above). Judged by the files that use a
  // Channel, and the two that load the package as users do: no other test file constructs one,
  // so running them could catch nothing more and would make each survivor cost a minute.
  channel: {
    rust: [],
    js: ['lib/channel.js'],
    tests: ['channel.test.js', 'no-space.test.js', 'module.test.js', 'esm.test.mjs'],
    // channel.test.js takes under 10 s here: a mutant that makes a receive wait forever is
    // stopped (and counted caught) after 40 s, not after the two minutes other areas allow.
    fileTimeoutMs: 40_000,
  },
  'name-rules': {
    rust: ['src/name.rs', 'src/rules.rs'],
    js: [],
    tests: [...fast, 'hostile.test.js'],
  },
}

module.exports = { areas }
