/** Where a producer puts bytes it hands over: a fresh (or reused) array of exactly `length` bytes. */
export type Allocate = (length: number) => Uint8Array;

/**
 * A fresh, uninitialised array over an ArrayBuffer of its own (never Buffer's shared slab), as
 * `slice` would return but without zero-filling it first: for 64 KiB chunks that fill doubled
 * the memory traffic of copying a chunk out.
 */
export const allocateFresh: Allocate = (length) => new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);

/** Smallest buffer the pool keeps; anything shorter gets a buffer of this size. */
const MIN_POOLED_BYTES = 4096;

/**
 * The size a pooled buffer for `length` bytes has: the next quarter step between powers of two
 * (4 KiB, 5, 6, 7, 8, 10, 12, 14, 16 KiB, ...), so at most a quarter of a buffer is unused.
 */
export function pooledSize(length: number): number {
  if (length <= MIN_POOLED_BYTES) return MIN_POOLED_BYTES;
  const step = 2 ** (Math.ceil(Math.log2(length)) - 3);
  return Math.ceil(length / step) * step;
}

/**
 * How much larger than the length asked a free buffer `take` may reuse when the length's own
 * size class has none. Content-defined chunks vary in size from cut to cut, so the buffers
 * given back often miss the next chunk's class: with exact classes only, a 2 GiB upload made
 * about 250 fresh buffers once warm, against 125 this way (BENCHMARKS.md, nineteenth pass).
 */
const REUSE_UP_TO = 2;

/**
 * Byte buffers lent out and given back, so the chunks of an upload (each copied out of the
 * chunker's window, then compressed into a new array) do not each leave a buffer for the
 * garbage collector. Those buffers lived for a chunk file's write and fsync, long enough to be
 * promoted, and V8 frees a promoted ArrayBuffer only at its next full collection: a 2 GiB ingest
 * held some 40 MiB of dead chunk buffers at its peak (BENCHMARKS.md, sixth pass).
 *
 * `take` lends a buffer; `give` takes it back for reuse. Only give back a buffer nothing reads
 * any more: its bytes will be overwritten by the next `take`. A buffer that is never given back
 * is simply collected as usual, so a failing path may keep its buffers. Giving back a buffer
 * the pool did not lend (or twice) does nothing.
 */
export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #lent = new WeakSet<ArrayBuffer>();
  #freeBytes = 0;

  /**
   * @param maxLength - longest request served from the pool; longer ones get a plain buffer.
   * @param maxFreeBytes - bytes kept for reuse at most; a buffer given back beyond it is dropped.
   */
  constructor(
    readonly maxLength: number,
    readonly maxFreeBytes: number,
  ) {}

  /** A buffer of exactly `length` bytes, uninitialised. */
  readonly take: Allocate = (length) => {
    if (length > this.maxLength) return allocateFresh(length);
    const own = this.#reuse(length) ?? (allocateFresh(pooledSize(length)).buffer as ArrayBuffer);
    this.#lent.add(own);
    return new Uint8Array(own, 0, length);
  };

  /** A free buffer of `length`'s size class, else of the smallest larger class up to REUSE_UP_TO × length. */
  #reuse(length: number): ArrayBuffer | undefined {
    const own = pooledSize(length);
    const largest = Math.max(own, REUSE_UP_TO * length);
    for (let size = own; size <= largest; size = pooledSize(size + 1)) {
      const buffer = this.#free.get(size)?.pop();
      if (buffer !== undefined) {
        this.#freeBytes -= size;
        return buffer;
      }
    }
    return undefined;
  }

  /** Takes back a buffer from `take`, for reuse. */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer as ArrayBuffer;
    if (!this.#lent.delete(buffer)) return;
    // Detached (moved to a worker): nothing left to reuse.
    if (buffer.byteLength === 0) return;
    if (this.#freeBytes + buffer.byteLength > this.maxFreeBytes) return;
    let list = this.#free.get(buffer.byteLength);
    if (list === undefined) this.#free.set(buffer.byteLength, (list = []));
    list.push(buffer);
    this.#freeBytes += buffer.byteLength;
  }

  /** Bytes held for reuse. */
  get freeBytes(): number {
    return this.#freeBytes;
  }
}
