'use strict'

// The public entry point: the SharedMemory class (lib/shared-memory.js),
// exported the way 1.x exported it (`module.exports` is the class), plus
// `.default` and `.SharedMemory` for ES module and named imports, and the
// message channel (lib/channel.js) as `.Channel`, with its in-place message class as
// `.InPlaceMessage` (also `Channel.InPlaceMessage`).
const SharedMemory = require('./lib/shared-memory.js')
const Channel = require('./lib/channel.js')

SharedMemory.default = SharedMemory
SharedMemory.SharedMemory = SharedMemory
SharedMemory.Channel = Channel
SharedMemory.InPlaceMessage = Channel.InPlaceMessage

module.exports = SharedMemory
