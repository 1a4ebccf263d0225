// `import x = require()`: the CommonJS form, where the module is the class.
import shared_memory = require('@markusjx/shared_memory');

const memory: shared_memory = new shared_memory(shared_memory.generateId(), 64);
const id: string = memory.id;
const same: typeof shared_memory = shared_memory.default;
const named: typeof shared_memory = shared_memory.SharedMemory;
console.log(id, same, named);
