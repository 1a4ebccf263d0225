// Every 2.x member, as a user would write it.
import SharedMemory = require('@markusjx/shared_memory');

const options: SharedMemory.Options = { size: 64, create: 'if-missing', mode: 0o600, global: false };
const memory = new SharedMemory(SharedMemory.generateId(), options);
const reader = new SharedMemory(memory.name, { create: false, readOnly: true });
const view: Buffer = memory.view;
const counters = new Int32Array(memory.view.buffer);
Atomics.add(counters, 0, 1);
memory.write('text', 4);
memory.write(new Uint16Array(2), 8);
memory.write(new DataView(new ArrayBuffer(2)), 12);
memory.write(new ArrayBuffer(2), 14);
const text: string = memory.read(4, 4);
const part: Buffer = memory.readBuffer(0, 8);
const copied: number = memory.readInto(new Uint8Array(8), 8);
const flags: [boolean, boolean] = [memory.closed, reader.readOnly];
const described: { size: number; name: string; host: boolean; global: boolean; id: string } = memory.toJSON();
console.log(described);
const outcome: 'ok' | 'not-equal' | 'timed-out' = memory.wait(0, 0, 10);
const woken: number = memory.notify(0, 1) + memory.notify(0);
const controller = new AbortController();
memory.waitAsync(0, 0, Infinity, controller.signal).then((result) => {
  const r: 'ok' | 'not-equal' | 'timed-out' = result;
  console.log(r);
});
void memory.waitAsync(0, 0);
const lockSize: number = SharedMemory.LOCK_SIZE;
const taken: 'acquired' | 'owner-died' | 'timed-out' = memory.lock(lockSize, 100);
const tried: 'acquired' | 'owner-died' | 'busy' = memory.tryLock(0);
memory.unlock(0);
void memory.lockAsync(0, Infinity, controller.signal).then((r) => console.log(r === 'owner-died'));
console.log(taken, tried);
console.log(outcome, woken);
memory.unlink();
memory.close();
memory[Symbol.dispose]();
const removed: boolean = SharedMemory.unlink('leftover');
const present: boolean = SharedMemory.exists('leftover', false);
console.log(view, text, part, copied, flags, removed, present);

// @ts-expect-error create takes true, false or 'if-missing'
new SharedMemory('x', { size: 1, create: 'always' });
// @ts-expect-error tryLock never times out
const never: 'timed-out' = memory.tryLock(0);
console.log(never);
// @ts-expect-error view is read-only
memory.view = Buffer.alloc(1);
