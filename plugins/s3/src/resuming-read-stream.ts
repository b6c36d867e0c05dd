import { Readable } from "node:stream";
import { StorageError } from "@attic-ts/core";

/** One GetObject answer, reduced to what resuming needs. */
export interface ObjectPart {
  body: Readable;
  /** Bytes this response promises (Content-Length), when the server said. */
  length: number | undefined;
  /** The object's ETag, for `If-Match` on a resumed request. */
  etag: string | undefined;
}

/** Fetches the object from byte `start` (a ranged GET with `If-Match: etag`). */
export type FetchFrom = (start: number, etag: string | undefined, signal: AbortSignal) => Promise<ObjectPart>;

export interface ResumingReadOptions {
  /** Resumes allowed after the stream broke, per stream (Attic #101 / PR #341). */
  maxResumes: number;
  /** Wait before the n-th resume: n × this, in milliseconds. */
  backoffMs: number;
  /** Names the object in error messages. */
  label: string;
}

/**
 * An object's bytes that survive a broken connection: when the body errors, or ends before the
 * promised length, the rest is fetched with a ranged GET pinned to the same ETag, up to
 * `maxResumes` times. Past that the stream fails with a StorageError; it never just ends early,
 * which is how Attic served truncated NARs from S3 (#101).
 */
export class ResumingReadStream extends Readable {
  readonly #fetchFrom: FetchFrom;
  readonly #options: ResumingReadOptions;
  /** Aborts the in-flight GetObject when the stream is destroyed. */
  readonly #controller = new AbortController();
  #part: ObjectPart;
  #iterator: AsyncIterator<Uint8Array>;
  /** Total object size in bytes, when known. */
  readonly #total: number | undefined;
  #received = 0;
  #resumes = 0;
  #pumping = false;

  constructor(first: ObjectPart, fetchFrom: FetchFrom, options: ResumingReadOptions) {
    super();
    this.#fetchFrom = fetchFrom;
    this.#options = options;
    this.#part = first;
    this.#total = first.length;
    this.#iterator = first.body[Symbol.asyncIterator]();
  }

  /** How many times this stream has resumed so far. */
  get resumes(): number {
    return this.#resumes;
  }

  override _read(): void {
    if (!this.#pumping) void this.#pump();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#controller.abort(err ?? new Error("stream destroyed"));
    this.#part.body.destroy();
    callback(err);
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (;;) {
        const chunk = await this.#nextChunk();
        if (this.destroyed) return;
        if (chunk === null) {
          this.push(null);
          return;
        }
        if (!this.push(chunk)) return;
      }
    } catch (err) {
      if (!this.destroyed) this.destroy(err as Error);
    } finally {
      this.#pumping = false;
    }
  }

  /** The next chunk of the object, resuming as needed; null at the true end. */
  async #nextChunk(): Promise<Uint8Array | null> {
    for (;;) {
      let failure: unknown;
      try {
        const step = await this.#iterator.next();
        if (!step.done) {
          this.#received += step.value.byteLength;
          return step.value;
        }
        if (this.#total === undefined || this.#received >= this.#total) return null;
        failure = new Error(`the body ended after ${this.#received} of ${this.#total} bytes`);
      } catch (err) {
        failure = err;
      }
      if (this.destroyed) return null;
      // Every promised byte arrived; a late error (e.g. on the trailing socket close) loses nothing.
      if (this.#total !== undefined && this.#received >= this.#total) return null;
      await this.#resume(failure);
    }
  }

  async #resume(failure: unknown): Promise<void> {
    const { label, maxResumes, backoffMs } = this.#options;
    const reason = (failure as Error | undefined)?.message ?? String(failure);
    if (this.#total === undefined) {
      throw new StorageError(`S3 read of ${label} broke and cannot be resumed (unknown length): ${reason}`, { cause: failure });
    }
    if (this.#resumes >= maxResumes) {
      throw new StorageError(`S3 read of ${label} broke after ${this.#received} of ${this.#total} bytes, ${maxResumes} resumes used: ${reason}`, { cause: failure });
    }
    this.#resumes++;
    this.#part.body.destroy();
    await new Promise((resolve) => setTimeout(resolve, backoffMs * this.#resumes));
    const signal = this.#controller.signal;
    if (signal.aborted) return;
    let part: ObjectPart;
    try {
      part = await this.#fetchFrom(this.#received, this.#part.etag ?? undefined, signal);
    } catch (err) {
      throw new StorageError(`S3 read of ${label} could not resume at byte ${this.#received}: ${(err as Error).message}`, { cause: err });
    }
    if (part.length !== undefined && part.length !== this.#total - this.#received) {
      part.body.destroy();
      throw new StorageError(`S3 read of ${label} resumed at byte ${this.#received} with ${part.length} bytes; expected ${this.#total - this.#received}.`);
    }
    // Keep the first ETag: a ranged response may carry none, and If-Match must stay pinned.
    this.#part = { ...part, etag: this.#part.etag ?? part.etag };
    this.#iterator = part.body[Symbol.asyncIterator]();
  }
}
