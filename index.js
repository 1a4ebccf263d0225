'use strict'

// The public entry point: the SharedMemory class (lib/shared-memory.js),
// exported the way 1.x exported it (`module.exports` is the class), plus
// `.default` and `.SharedMemory` for ES module and named imports.
const SharedMemory = require('./lib/shared-memory.js')

SharedMemory.default = SharedMemory
SharedMemory.SharedMemory = SharedMemory

module.exports = SharedMemory
