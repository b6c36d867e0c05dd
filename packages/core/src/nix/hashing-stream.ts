import { createHash, type Hash } from "node:crypto";
import { nextUntilAborted } from "../util/abortable.ts";
import { Sha256Hash } from "./hash.ts";

export interface HashingStreamOptions {
  /**
   * Pass at most this many bytes, in bytes (Rust's `.take(n)`; Attic reads
   * `body.take(nar_size)`). On reaching it the stream ends without pulling or closing the
   * source, so an HTTP request body is left alone for the host to deal with.
   */
  limit?: number;
  /** Aborts a pending read; iteration then throws the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Passes a byte stream through unchanged while computing its SHA-256 and length. Iterate it
 * once; after the end (source exhausted or `limit` reached) read {@link digest} and
 * {@link size}. Memory use is one source slice.
 */
export class HashingStream implements AsyncIterable<Uint8Array> {
  readonly #source: AsyncIterable<Uint8Array>;
  readonly #limit: number;
  readonly #signal: AbortSignal | undefined;
  readonly #hash: Hash = createHash("sha256");
  #size = 0;
  #started = false;
  #digest: Sha256Hash | undefined;

  constructor(source: AsyncIterable<Uint8Array>, options: HashingStreamOptions = {}) {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) throw new RangeError(`limit must be a non-negative number, got ${limit}`);
    this.#source = source;
    this.#limit = limit;
    this.#signal = options.signal;
  }

  /** Bytes passed through so far. */
  get size(): number {
    return this.#size;
  }

  /** True once the stream has ended and {@link digest} is available. */
  get finished(): boolean {
    return this.#digest !== undefined;
  }

  /** SHA-256 of all bytes passed through. Throws if the stream has not ended. */
  digest(): Sha256Hash {
    if (this.#digest === undefined) throw new Error("HashingStream: digest() before the stream ended");
    return this.#digest;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.#started) throw new Error("HashingStream can only be iterated once");
    this.#started = true;
    const signal = this.#signal;
    signal?.throwIfAborted();
    const iterator = this.#source[Symbol.asyncIterator]();
    // Close the source when we stop early because of an error, abort or a consumer break,
    // but not when the limit was reached (see `limit`).
    let closeSource = true;
    try {
      while (this.#size < this.#limit) {
        const step = await nextUntilAborted(iterator, signal);
        if (step.done) {
          closeSource = false;
          break;
        }
        let chunk = step.value;
        const room = this.#limit - this.#size;
        if (chunk.length > room) chunk = chunk.subarray(0, room);
        if (chunk.length === 0) continue;
        this.#hash.update(chunk);
        this.#size += chunk.length;
        yield chunk;
      }
      if (this.#size >= this.#limit) closeSource = false;
      this.#digest = Sha256Hash.fromBytes(this.#hash.digest());
    } finally {
      if (closeSource && iterator.return) {
        // Do not wait: a source blocked in a read (the reason we aborted) may never settle.
        iterator.return().catch(() => undefined);
      }
    }
  }
}

/** Consumes `source` entirely and returns its SHA-256 and length in bytes. */
export async function hashAll(
  source: AsyncIterable<Uint8Array>,
  options: HashingStreamOptions = {},
): Promise<{ hash: Sha256Hash; size: number }> {
  const stream = new HashingStream(source, options);
  for await (const _ of stream) {
    // The bytes are only hashed.
  }
  return { hash: stream.digest(), size: stream.size };
}

