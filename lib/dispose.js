'use strict'

/**
 * Gives `prototype` a `[Symbol.dispose]()` that calls `dispose` with the object, so that
 * `using x = ...` ends it at the end of the scope, where the runtime has explicit resource
 * management; elsewhere, nothing. Writable and configurable, like any method.
 */
function defineDispose(prototype, dispose) {
  if (typeof Symbol.dispose !== 'symbol') return
  Object.defineProperty(prototype, Symbol.dispose, {
    value: {
      [Symbol.dispose]() {
        dispose(this)
      },
    }[Symbol.dispose],
    writable: true,
    configurable: true,
  })
}

module.exports = { defineDispose }
