/// <reference types="node" />

/**
 * A named block of shared memory, visible to every process on this machine that
 * opens the same name.
 *
 * Errors: a `TypeError` (code `ERR_INVALID_ARG_TYPE`) for an argument of the
 * wrong type, a `RangeError` (code `ERR_OUT_OF_RANGE`) for a number outside its
 * range, and an `Error` with one of the `ERR_SHM_*` codes below otherwise. Every
 * member called on something that is not a `SharedMemory` throws a `TypeError`
 * with code `ERR_INVALID_THIS`.
 */
declare class SharedMemory {
  /**
   * Creates a new block (`host = true`) or attaches to an existing one
   * (`host = false`). A host's block is removed when the object is
   * garbage-collected.
   *
   * @param name the block's name: not empty, without `/`, `\` or NUL, at most
   *   254 bytes on Linux and 30 on macOS.
   * @param sizeInBytes the block's size, a positive safe integer. When
   *   attaching, the block must have at least this many bytes.
   * @param global Windows only: create or open the block in the `Global\`
   *   namespace (creating one there needs SeCreateGlobalPrivilege). Ignored
   *   elsewhere. Defaults to `false`.
   * @param host whether to create the block. Defaults to `true`.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for arguments of the wrong type.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` when `sizeInBytes` is not a positive
   *   safe integer or is more than this process can map.
   * @throws {Error} `ERR_SHM_INVALID_NAME` for an unusable name,
   *   `ERR_SHM_EXISTS` when creating a block that exists, `ERR_SHM_NOT_FOUND`
   *   when attaching to one that does not, `ERR_SHM_TOO_LARGE` when attaching
   *   with a size larger than the block, `ERR_SHM_ACCESS` without permission,
   *   `ERR_SHM_NO_SPACE` when the system cannot hold the block (a full
   *   `/dev/shm`), `ERR_SHM_NOT_A_BLOCK` when something else (a FIFO, a
   *   directory) sits at the name, `ERR_SHM_OS` for any other OS error.
   */
  constructor(name: string, sizeInBytes: number, global?: boolean, host?: boolean)

  /**
   * Creates a block, attaches to one, or either, as `options` says.
   *
   * ```js
   * const host = new SharedMemory('frames', { size: 1 << 20 })
   * const client = new SharedMemory('frames', { create: false })           // the whole block
   * const either = new SharedMemory('frames', { size: 1 << 20, create: 'if-missing' })
   * const reader = new SharedMemory('frames', { create: false, readOnly: true })
   * ```
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for options of the wrong type
   *   (and for a missing `size` when creating); `ERR_INVALID_ARG_VALUE` for an
   *   unknown `create` value or `readOnly` without `create: false`.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` for a `size` that is not a
   *   positive safe integer, or a `mode` outside `0` to `0o777`.
   * @throws {Error} the `ERR_SHM_*` codes of the positional form.
   */
  constructor(name: string, options: SharedMemory.Options)

  /**
   * A name for a new block that no existing block uses: 26 characters of
   * `[a-z2-7]`, made from a random v4 UUID.
   *
   * @param global look for existing blocks in the `Global\` namespace
   *   (Windows only). Defaults to `false`.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `global` is not a boolean.
   */
  static generateId(global?: boolean): string

  /**
   * The bytes one lock takes in a block (8). A lock's offset is a multiple
   * of it; all-zero bytes are a free lock, so a fresh block needs no set-up.
   */
  static readonly LOCK_SIZE: number

  /**
   * {@link SharedMemory.generateId} computed on the libuv thread pool.
   *
   * @param global see {@link SharedMemory.generateId}.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `global` is not a boolean.
   */
  static generateIdAsync(global?: boolean): Promise<string>

  /** The size of the block in bytes. */
  readonly size: number

  /** The name the block was created or attached with. */
  readonly name: string

  /** Whether this object created the block. */
  readonly host: boolean

  /** Whether the block is in the `Global\` namespace (meaningful on Windows only). */
  readonly global: boolean

  /** The OS-level name: `/name` on Unix; `name` or `Global\name` on Windows. */
  readonly id: string

  /** Whether {@link SharedMemory.close} was called. */
  readonly closed: boolean
  /**
   * What `JSON.stringify` gives: the properties 1.x objects carried as their
   * own (also after `close()`).
   */
  toJSON(): { size: number; name: string; host: boolean; global: boolean; id: string }

  /** Whether the block is mapped read-only (`readOnly: true`). */
  readonly readOnly: boolean

  /**
   * A Buffer over the whole block, without copying: bytes written through it
   * are what other processes read, and the other way round. It is made once and
   * cached; `view.buffer` is its ArrayBuffer, so
   * `new Int32Array(memory.view.buffer)` works with `Atomics` across processes.
   *
   * The memory stays mapped while any view is reachable, even after this
   * object is garbage-collected. After {@link SharedMemory.close} a view that
   * is still held keeps its length: on Linux, macOS and FreeBSD it shows
   * private zero-filled memory (writes reach no other process), on Windows the
   * block, until the view is garbage-collected.
   *
   * @throws {RangeError} `ERR_BUFFER_TOO_LARGE` for a block larger than a
   *   Buffer may be (4 GiB in Node 20); the other members work on it (`buffer`
   *   and `readBuffer` copy up to that much).
   * @throws {Error} `ERR_SHM_READ_ONLY` for a read-only block (a write through
   *   a view would crash the process), `ERR_SHM_CLOSED` after `close()`,
   *   `ERR_SHM_NO_EXTERNAL_BUFFERS` where the runtime forbids external buffers
   *   (Electron's memory cage).
   */
  readonly view: Buffer

  /**
   * The string at the start of the block: its bytes up to the first NUL or the
   * end of the block, decoded as UTF-8 (invalid sequences become U+FFFD).
   *
   * Setting it writes the UTF-8 bytes of the string at the start of the block,
   * followed by a NUL when the string is shorter than the block.
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when set to a non-string.
   * @throws {Error} `ERR_SHM_TOO_LARGE` when set to a string longer than the
   *   block; the block is unchanged. `ERR_SHM_READ_ONLY` when set on a
   *   read-only block; `ERR_SHM_CLOSED` after `close()`.
   */
  get data(): string
  set data(data: string)

  /**
   * A new Buffer holding a copy of the whole block. Copies of up to 4 KiB are
   * slices of a shared pool, as `Buffer.allocUnsafe` gives (`buf.buffer` is
   * the pool).
   *
   * Setting it copies the Buffer to the start of the block (no NUL after it).
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when set to a non-Buffer.
   * @throws {Error} `ERR_SHM_TOO_LARGE` when set to a Buffer larger than the
   *   block; the block is unchanged. `ERR_SHM_READ_ONLY` when set on a
   *   read-only block; `ERR_SHM_CLOSED` after `close()`.
   * @throws {RangeError} `ERR_BUFFER_TOO_LARGE` when read from a block larger
   *   than a Buffer may be (4 GiB in Node 20).
   */
  get buffer(): Buffer
  set buffer(data: Buffer)

  /**
   * Writes at byte `offset`: a string as UTF-8, followed by a NUL when it ends
   * before the block does, or the bytes of a Buffer, TypedArray, DataView or
   * ArrayBuffer (no NUL).
   *
   * @param offset where to write; defaults to 0.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for other data, or an offset
   *   that is not a number.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` for an offset outside the block,
   *   negative or fractional; nothing is written.
   * @throws {Error} `ERR_SHM_TOO_LARGE` when the data does not fit after
   *   `offset`; nothing is written. `ERR_SHM_READ_ONLY`, `ERR_SHM_CLOSED`.
   */
  write(data: string | NodeJS.ArrayBufferView | ArrayBuffer, offset?: number): void

  /**
   * The string at byte `offset`: up to the first NUL, `length` bytes, or the
   * end of the block, whichever comes first; decoded as UTF-8.
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for arguments that are not numbers.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` when `offset` or `offset + length`
   *   is outside the block.
   * @throws {Error} `ERR_SHM_CLOSED` after `close()`.
   */
  read(offset?: number, length?: number): string

  /**
   * A new Buffer holding a copy of `length` bytes at `offset`; by default the
   * whole block.
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for arguments that are not numbers.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` when `offset` or `offset + length`
   *   is outside the block; `ERR_BUFFER_TOO_LARGE` for a copy larger than a
   *   Buffer may be (4 GiB in Node 20).
   * @throws {Error} `ERR_SHM_CLOSED` after `close()`.
   */
  readBuffer(offset?: number, length?: number): Buffer

  /**
   * Copies bytes from `offset` into `target`, without allocating: as many as
   * fit, `min(target.byteLength, size - offset)`.
   *
   * @returns the number of bytes copied.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `target` is not a Buffer,
   *   TypedArray or DataView, or `offset` is not a number.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` when `offset` is outside the block.
   * @throws {Error} `ERR_SHM_CLOSED` after `close()`.
   */
  readInto(target: NodeJS.ArrayBufferView, offset?: number): number

  /**
   * If the 32-bit integer at byte `offset` equals `expected`, sleeps until
   * another process (or thread) calls {@link SharedMemory.notify} on that
   * offset, or `timeoutMs` passes. Blocks the calling thread, like
   * `Atomics.wait`; see {@link SharedMemory.waitAsync} for the event loop.
   *
   * Read and change the value with `Atomics` on
   * `new Int32Array(memory.view.buffer)`: change it, then notify.
   *
   * @param offset a multiple of 4 inside the block.
   * @param expected coerced as `Atomics.wait` does (`ToInt32`).
   * @param timeoutMs milliseconds; `Infinity` (the default) waits for ever.
   * @returns `'not-equal'` if the value differed at once, `'ok'` when woken
   *   (or the value changed while waiting), `'timed-out'` otherwise.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` for an offset that is not a
   *   multiple of 4 inside the block.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an offset or timeout that
   *   is not a number.
   * @throws {Error} `ERR_SHM_CLOSED` after `close()`.
   */
  wait(offset: number, expected: number, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out'

  /**
   * {@link SharedMemory.wait} without blocking: the waiting happens on a
   * thread of its own (not libuv's pool), so thousands can be pending.
   *
   * @param signal aborting it rejects the promise with an `AbortError`
   *   (code `ABORT_ERR`, `cause` the signal's reason) and stops the wait.
   * @returns a promise of the same results as `wait`. It rejects with the
   *   errors `wait` throws, with a `TypeError` when `signal` is not an
   *   AbortSignal, with `ERR_SHM_CLOSED` when the block is closed while
   *   waiting, and with `ERR_SHM_TOO_MANY_WAITS` when no thread can be started
   *   for it (an address-space limit, `ulimit -v`, allows waiter threads an
   *   eighth of it).
   */
  waitAsync(
    offset: number,
    expected: number,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<'ok' | 'not-equal' | 'timed-out'>

  /**
   * Wakes up to `count` waiters on byte `offset`, in every process.
   *
   * @param offset a multiple of 4 inside the block.
   * @param count a non-negative integer; `Infinity` (the default) wakes all.
   * @returns how many woke, where the OS says so (FreeBSD does not: 0 there).
   * @throws {RangeError} `ERR_OUT_OF_RANGE` for a bad offset or count.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for arguments that are not numbers.
   * @throws {Error} `ERR_SHM_CLOSED` after `close()`.
   */
  notify(offset: number, count?: number): number

  /**
   * Takes the lock at byte `offset`, sleeping while another thread (of this
   * or any process) holds it. The owner is the calling thread (main or
   * worker); locks are not recursive. A holder that dies in any way hands the
   * lock to the next locker with `'owner-died'`: it owns the lock, and the
   * data the lock guards may be half-written (repair it, then `unlock` as
   * usual). A stopped or slow holder is alive.
   *
   * @param offset a multiple of {@link SharedMemory.LOCK_SIZE} inside the block.
   * @param timeoutMs milliseconds; `Infinity` (the default) waits for ever.
   * @throws {RangeError} `ERR_OUT_OF_RANGE` for a bad offset.
   * @throws {Error} `ERR_SHM_DEADLOCK` on the thread that holds the lock;
   *   `ERR_SHM_READ_ONLY` for a block opened read-only; `ERR_SHM_CLOSED`;
   *   `ERR_SHM_UNSUPPORTED` where owner death cannot be told (this release:
   *   FreeBSD).
   */
  lock(offset: number, timeoutMs?: number): 'acquired' | 'owner-died' | 'timed-out'

  /**
   * {@link SharedMemory.lock} without waiting: `'busy'` while a live thread
   * holds it (the calling one included).
   */
  tryLock(offset: number): 'acquired' | 'owner-died' | 'busy'

  /**
   * {@link SharedMemory.lock} as a Promise; the event loop stays free, and on
   * the owning thread it waits for the unlock like any other locker. An
   * aborted `signal` rejects it with an `AbortError` and leaves the lock as it
   * was (a lock taken for the aborted call is given back).
   */
  lockAsync(
    offset: number,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<'acquired' | 'owner-died' | 'timed-out'>

  /**
   * Frees the lock at byte `offset`, which the calling thread holds (also
   * after `lockAsync`).
   *
   * @throws {Error} `ERR_SHM_NOT_OWNER` when the calling thread does not hold it.
   */
  unlock(offset: number): void

  /**
   * Releases the block before it returns: rejects pending `waitAsync` calls
   * with `ERR_SHM_CLOSED`, gives the block's pages back (a view still held
   * keeps its length over private zeros; on Windows it keeps the pages until
   * it is collected), and, for the host, removes the block's name (as garbage
   * collection does). Calling it again does nothing. Afterwards
   * every member that touches the block throws `ERR_SHM_CLOSED`; `name`,
   * `size`, `host`, `global`, `id` and `closed` stay readable.
   */
  close(): void

  /** {@link SharedMemory.close}, for `using memory = new SharedMemory(...)`. */
  [Symbol.dispose](): void

  /**
   * Removes the block's name now: this object and every process attached keep
   * working, new attaches fail with `ERR_SHM_NOT_FOUND`, and the name is free
   * for a new block (which this object's `close()` then leaves alone). On
   * Windows a name lives until the last handle closes: there this gives up
   * this object's handle, and the name goes once no one else holds one.
   *
   * @throws {Error} `ERR_SHM_CLOSED` after `close()`, `ERR_SHM_ACCESS`,
   *   `ERR_SHM_OS`.
   */
  unlink(): void

  /**
   * Removes the block named `name`, such as one left behind by a crashed
   * process; returns whether there was one. Processes attached to it keep
   * their memory. On Windows a name cannot be removed before its last handle
   * closes: there this only reports whether it exists.
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string name or a
   *   non-boolean `global`.
   * @throws {Error} `ERR_SHM_INVALID_NAME`, `ERR_SHM_ACCESS`, `ERR_SHM_OS`.
   */
  static unlink(name: string, global?: boolean): boolean

  /**
   * Whether a block named `name` exists.
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string name or a
   *   non-boolean `global`.
   * @throws {Error} `ERR_SHM_INVALID_NAME`, `ERR_SHM_OS`.
   */
  static exists(name: string, global?: boolean): boolean
}

declare namespace SharedMemory {
  export { SharedMemory, SharedMemory as default }

  /** The options of `new SharedMemory(name, options)`. */
  export interface Options {
    /**
     * The size in bytes. Required to create a block. When attaching, the block
     * must have at least this many bytes and only these are used; without it
     * the whole block is used, as the OS reports its size: exact on Linux,
     * rounded up to whole pages on macOS and Windows.
     */
    size?: number
    /**
     * `true` (the default) creates the block and fails with `ERR_SHM_EXISTS`
     * if it exists; `false` attaches and fails with `ERR_SHM_NOT_FOUND` if it
     * is missing; `'if-missing'` attaches if it exists and creates it
     * otherwise, safely when several processes race to do the same
     * ({@link SharedMemory.host} tells which happened). `'if-missing'` attaches
     * only to a block of this process's user: another user's block under the
     * name is `ERR_SHM_EXISTS`.
     */
    create?: boolean | 'if-missing'
    /** Windows only: use the `Global\` namespace. Defaults to `false`. */
    global?: boolean
    /**
     * Unix permission bits of a created block, applied exactly (not reduced by
     * the umask). Defaults to `0o600`. Ignored when attaching and on Windows.
     */
    mode?: number
    /**
     * Map the block read-only: every write throws `ERR_SHM_READ_ONLY`, and so
     * does {@link SharedMemory.view}. Needs `create: false`.
     */
    readOnly?: boolean
    /**
     * With `create: true` or `'if-missing'`: when the name is held by a block
     * whose creator died without cleaning up (SIGKILL, a crash), remove it and
     * create anew. Only blocks this library made, of the same user, whose
     * creator's liveness lock is free are taken; a live (even stopped) creator,
     * another program's or another user's block give `ERR_SHM_EXISTS`. Needs a
     * create (`ERR_INVALID_ARG_VALUE` with `create: false`). Defaults to
     * `false`.
     */
    reclaim?: boolean
  }

  /** The options of `new Channel(name, options)`. */
  export interface ChannelOptions {
    /**
     * The largest message in bytes, and about the bytes of message space: each
     * message takes its length rounded up to 16, plus 16 bytes of framing.
     * From 1 to 2^30 - 16. Required to create a channel; ignored when
     * attaching (the channel's own is used).
     */
    capacity?: number
    /**
     * `true` (the default) creates the channel's block and fails with
     * `ERR_SHM_EXISTS` if the name exists; `false` attaches and fails with
     * `ERR_SHM_NOT_FOUND` if it is missing; `'if-missing'` attaches or
     * creates, safely when several processes race.
     */
    create?: boolean | 'if-missing'
    /** Unix permission bits of a created channel's block. Defaults to `0o600`. */
    mode?: number
  }

  /** A message to send: text (sent as UTF-8, received as a string) or bytes. */
  export type Message = string | ArrayBufferView | ArrayBuffer | SharedArrayBuffer

  /**
   * A bounded message channel in a shared memory block of its own, for any
   * number of senders and receivers in any processes and worker threads. Each
   * message goes to exactly one receiver; the messages of one sender arrive in
   * the order sent. Its format is in `docs/channel-format.md`.
   *
   * @example
   * const channel = new Channel('jobs', { capacity: 1 << 20 })      // one process
   * const peer = new Channel('jobs', { create: false })              // another
   * channel.send('hello')
   * peer.receive() // 'hello'
   */
  export class Channel implements AsyncIterable<string | Buffer> {
    /**
     * Creates the channel's block, attaches to it, or either (`options.create`).
     *
     * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for options that are not an
     *   object or a capacity that is not a number.
     * @throws {RangeError} `ERR_OUT_OF_RANGE` for a capacity outside 1 to 2^30 - 16.
     * @throws {Error} `ERR_SHM_NOT_A_CHANNEL` when attaching to a block that is
     *   not a channel of this format version; the errors of `new SharedMemory`.
     */
    constructor(name: string, options: ChannelOptions)
    /** The class of in-place messages (also `SharedMemory.InPlaceMessage`). */
    static readonly InPlaceMessage: typeof InPlaceMessage
    /** The channel's name (its block's). */
    readonly name: string
    /** The largest message, in bytes. */
    readonly capacity: number
    /** Whether this object was closed. */
    readonly closed: boolean
    /** Whether `end()` was called, by anyone in any process. */
    readonly ended: boolean
    /**
     * Sends `message`, waiting up to `timeoutMs` (default Infinity) while the
     * channel is full: `true` once it is in, `false` if the channel stayed full.
     *
     * @throws {RangeError} `ERR_OUT_OF_RANGE` for a message larger than `capacity`
     *   (nothing is sent).
     * @throws {Error} `ERR_SHM_CHANNEL_ENDED` once the channel has ended (also a
     *   sender waiting for room when it ends); `ERR_SHM_CLOSED` after `close()`.
     */
    send(message: Message, timeoutMs?: number): boolean
    /** Like {@link send}, as a Promise; an aborted `signal` rejects with an `AbortError` and sends nothing. */
    sendAsync(message: Message, timeoutMs?: number, signal?: AbortSignal): Promise<boolean>
    /**
     * The next message: a string if it was sent as one, else a Buffer of its
     * own. `undefined` after `timeoutMs` (default Infinity), or at once when the
     * channel has ended and every message sent before was received.
     */
    receive(timeoutMs?: number): string | Buffer | undefined
    /** Like {@link receive}, as a Promise; an aborted `signal` rejects with an `AbortError` and takes nothing. */
    receiveAsync(timeoutMs?: number, signal?: AbortSignal): Promise<string | Buffer | undefined>
    /**
     * Like {@link receive}, without copying: the message's bytes are read in
     * place, in the channel's memory, until `release()`.
     */
    receiveInPlace(timeoutMs?: number): InPlaceMessage | undefined
    /** Like {@link receiveInPlace}, as a Promise. */
    receiveInPlaceAsync(timeoutMs?: number, signal?: AbortSignal): Promise<InPlaceMessage | undefined>
    /** Every message, until the channel has ended and is drained. */
    [Symbol.asyncIterator](): AsyncIterator<string | Buffer>
    /**
     * Ends the channel for every process: sends throw `ERR_SHM_CHANNEL_ENDED`
     * from now on (blocked senders wake and throw it), receivers get what was
     * sent before, then `undefined`.
     */
    end(): void
    /** Lets go of the channel; the creator's `close()` also removes its name. */
    close(): void
    /** {@link Channel.close}, for `using`. */
    [Symbol.dispose](): void
    /** Removes the channel's name now; everyone attached keeps working. */
    unlink(): void
  }

  /**
   * A message read in place ({@link Channel.receiveInPlace}). Its `bytes` are
   * the channel's memory: valid until `release()`. Until then its room in the
   * channel is not reused, so release it soon; if the receiving thread dies
   * first, its room comes back. Read the bytes, never write to them, and do not
   * touch them after `release()`: the room then holds later messages, which a
   * write would change (in every process). Memory stays mapped either way.
   */
  export class InPlaceMessage {
    private constructor()
    /** The message's bytes (UTF-8 where it was sent as a string). */
    readonly bytes: Buffer
    /** Whether it was sent as a string. */
    readonly isText: boolean
    /** Gives the message's room back. Calling it again does nothing. */
    release(): void
    /** {@link InPlaceMessage.release}, for `using`. */
    [Symbol.dispose](): void
  }
}

export = SharedMemory
