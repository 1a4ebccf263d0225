'use strict'

// The public entry point: the native class, exported the way 1.x exported it
// (`module.exports` is the class), plus `.default` and `.SharedMemory` for ES
// module and named imports. The generated loader `binding.js` finds the
// compiled addon for this platform.
const { SharedMemory } = require('./binding.js')

SharedMemory.default = SharedMemory
SharedMemory.SharedMemory = SharedMemory

// `using memory = new SharedMemory(...)` closes the block at the end of the
// scope, where the runtime has explicit resource management.
if (typeof Symbol.dispose === 'symbol') {
  Object.defineProperty(SharedMemory.prototype, Symbol.dispose, {
    value: function dispose() {
      this.close()
    },
    writable: true,
    configurable: true,
  })
}

module.exports = SharedMemory
