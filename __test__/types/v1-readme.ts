// The 1.x README example, unchanged but for the import path: it must compile
// against the 2.x typings with and without esModuleInterop.
import shared_memory from '@markusjx/shared_memory';

// Generate a memory id
const id = shared_memory.generateId();

// Create a new shared memory block
// with a size of 1024 bytes
const memory = new shared_memory(id, 1024, false, true);

// Write data to the memory
memory.data = "Some data";

// Write some new data in form of a buffer
memory.buffer = Buffer.from("Some data");

// Attach the created memory
const client = new shared_memory(id, 1024, false, false);

// Read the data
const read: string = client.data;

// Read the data into a buffer.
// This will contain all of the data in the memory block.
const buf: Buffer = client.buffer;

async function more(): Promise<void> {
  const asyncId: string = await shared_memory.generateIdAsync(true);
  const other: shared_memory = new shared_memory(asyncId, 16);
  other.write("text");
  other.write(Buffer.alloc(4));
  const s: string = other.read();
  const b: Buffer = other.readBuffer();
  const size: number = other.size;
  const name: string = other.name;
  const host: boolean = other.host;
  const global: boolean = other.global;
  console.log(s, b, size, name, host, global, read, buf);
}
void more;
