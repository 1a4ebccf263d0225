/// <reference types="node" />

/**
 * A named block of shared memory, visible to every process on this machine that
 * opens the same name.
 *
 * Errors: a `TypeError` (code `ERR_INVALID_ARG_TYPE`) for an argument of the
 * wrong type, a `RangeError` (code `ERR_OUT_OF_RANGE`) for a number outside its
 * range, and an `Error` with one of the `ERR_SHM_*` codes below otherwise.
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
   *   `/dev/shm`), `ERR_SHM_OS` for any other OS error.
   */
  constructor(name: string, sizeInBytes: number, global?: boolean, host?: boolean)

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

  /**
   * The string at the start of the block: its bytes up to the first NUL or the
   * end of the block, decoded as UTF-8 (invalid sequences become U+FFFD).
   *
   * Setting it writes the UTF-8 bytes of the string at the start of the block,
   * followed by a NUL when the string is shorter than the block.
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when set to a non-string.
   * @throws {Error} `ERR_SHM_TOO_LARGE` when set to a string longer than the
   *   block; the block is unchanged.
   */
  get data(): string
  set data(data: string)

  /**
   * A new Buffer holding a copy of the whole block.
   *
   * Setting it copies the Buffer to the start of the block (no NUL after it).
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when set to a non-Buffer.
   * @throws {Error} `ERR_SHM_TOO_LARGE` when set to a Buffer larger than the
   *   block; the block is unchanged.
   */
  get buffer(): Buffer
  set buffer(data: Buffer)

  /**
   * Writes to the start of the block: a string as UTF-8 followed by a NUL when
   * it is shorter than the block, or the bytes of a Buffer.
   *
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for anything but a string or a
   *   Buffer.
   * @throws {Error} `ERR_SHM_TOO_LARGE` when the data is larger than the
   *   block; the block is unchanged.
   */
  write(data: string | Buffer): void

  /** The string at the start of the block, as {@link SharedMemory.data}. */
  read(): string

  /** A new Buffer holding a copy of the whole block, as {@link SharedMemory.buffer}. */
  readBuffer(): Buffer
}

declare namespace SharedMemory {
  export { SharedMemory, SharedMemory as default }
}

export = SharedMemory
