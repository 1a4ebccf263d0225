// The named export, and every member of the 1.x API through it.
import { SharedMemory } from '@markusjx/shared_memory';

const name: string = SharedMemory.generateId(false);
const memory: SharedMemory = new SharedMemory(name, 1024);
memory.data = 'text';
memory.buffer = Buffer.from('bytes');
memory.write('text');
memory.write(Buffer.from('bytes'));
const values: [string, Buffer, string, Buffer, number, string, boolean, boolean, string] = [
  memory.data,
  memory.buffer,
  memory.read(),
  memory.readBuffer(),
  memory.size,
  memory.name,
  memory.host,
  memory.global,
  memory.id,
];
const pending: Promise<string> = SharedMemory.generateIdAsync();
console.log(values, pending);

// @ts-expect-error size is read-only
memory.size = 5;
// @ts-expect-error data takes a string
memory.data = 5;
