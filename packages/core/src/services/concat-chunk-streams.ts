import { setMaxListeners } from "node:events";
import { Readable } from "node:stream";
import type { BlobStore } from "../storage/blob-store.ts";
import type { RemoteFile } from "../storage/remote-file.ts";
import { StorageError } from "../errors.ts";
import { DEFAULT_PART_PAGE_SIZE, PartPages, type PartSource, type StoredPart } from "./part-pages.ts";
import type { ReadAheadPool } from "./read-ahead-pool.ts";

export { ReadAheadPool } from "./read-ahead-pool.ts";
export type { PartSource, StoredPart } from "./part-pages.ts";

/** Opens a stored file as a stream (never a redirect URL). */
export async function openStream(store: BlobStore, ref: RemoteFile, signal?: AbortSignal, expectedSize?: number): Promise<Readable> {
  const download = await store.open(ref, {
    preferStream: true,
    ...(signal ? { signal } : {}),
    ...(expectedSize !== undefined ? { expectedSize } : {}),
  });
  if (download.kind !== "stream") throw new StorageError("storage answered a URL where a stream was required");
  return download.stream;
}

export interface ConcatOptions {
  /**
   * Bytes of files opened ahead of the one being sent, summed over their known sizes: the
   * read-ahead memory of one download. The next file is opened whatever its size (a backend
   * streams big files, so opening one costs little).
   */
  readAheadBytes: number;
  /** Where the read-ahead beyond the first file ahead is taken from, when shared. */
  pool?: ReadAheadPool;
  /** Files opened ahead at most, whatever their sizes (bounds descriptors per download). */
  maxFilesAhead?: number;
  /** Cancels the download: opening stops and every opened file is closed. */
  signal?: AbortSignal;
  /** Parts described per page of a `PartSource` (default 512); an array is one page. */
  pageSize?: number;
}

/** What a part of unknown size counts for in the read-ahead budget, bytes. */
const UNKNOWN_SIZE_COST = 64 * 1024;
const DEFAULT_MAX_FILES_AHEAD = 64;

/**
 * Stored files concatenated in order (Attic's `merge_chunks`), with a read-ahead bounded by
 * bytes, so small chunk files are read several at a time (keeping the I/O thread pool busy)
 * while a download's memory stays bounded by `readAheadBytes`, not by the NAR. Destroying the
 * result, an abort, or a failure closes every file opened so far; a failure is emitted as a
 * stream error, never as a clean end, so a client can't mistake a truncated NAR for a
 * complete one.
 */
export function concatChunkStreams(store: BlobStore, parts: readonly StoredPart[] | PartSource, options: ConcatOptions): Readable {
  return new ConcatStream(store, parts, options);
}

/** What a part counts for in the read-ahead budget, bytes. */
function costOf(part: StoredPart): number {
  return part.size === undefined || part.size === null ? UNKNOWN_SIZE_COST : part.size;
}

class ConcatStream extends Readable {
  readonly #store: BlobStore;
  /** The part list, a page or two of it at a time. */
  readonly #parts: PartPages;
  readonly #budget: number;
  readonly #maxAhead: number;
  readonly #signal: AbortSignal | undefined;
  /**
   * What the opens get: aborted with the caller's signal and when this stream is destroyed,
   * so an open in flight is cancelled either way, and the caller's signal carries one listener
   * per download instead of one per open file.
   */
  readonly #opens = new AbortController();
  readonly #pool: ReadAheadPool | undefined;
  /** Bytes taken from `#pool`, given back as parts are sent and on destroy. */
  #taken = 0;
  /** Opens in flight or done, by index; entries are removed once sent. */
  readonly #opened = new Map<number, Promise<Readable>>();
  /** Next index to open. */
  #next = 0;
  /** Index of the part being sent. */
  #current = 0;
  /** Budget used by parts opened ahead of `#current`, bytes. */
  #aheadBytes = 0;
  /** The part being sent, once open. */
  #stream: Readable | undefined;
  /** Bytes of the current part sent so far. */
  #partBytes = 0;
  /** Waiting for the current part's open. */
  #opening = false;
  /** The consumer asked for data and `push` has not said stop since. */
  #wanted = false;
  readonly #onAbort = () => this.destroy(this.#signal?.reason as Error);
  readonly #onReadable = () => this.#pump();
  readonly #onEnd = () => this.#partDone();
  readonly #onError = (err: Error) => this.destroy(err);

  constructor(store: BlobStore, parts: readonly StoredPart[] | PartSource, options: ConcatOptions) {
    super();
    this.#store = store;
    this.#parts = new PartPages(parts, {
      pageSize: options.pageSize ?? DEFAULT_PART_PAGE_SIZE,
      signal: this.#opens.signal,
      onLoaded: () => this.#pump(),
      onError: (err) => this.destroy(new StorageError(`cannot list the stored files of the NAR: ${err.message}`, { cause: err })),
    });
    this.#budget = options.readAheadBytes;
    this.#maxAhead = options.maxFilesAhead ?? DEFAULT_MAX_FILES_AHEAD;
    this.#signal = options.signal;
    this.#pool = options.pool;
    // Every file open ahead (up to maxAhead + 2 with the current one) listens on it until it
    // ends, and a backend may add a second listener while it reads (local-fs whole reads).
    setMaxListeners(2 * (this.#maxAhead + 2) + 8, this.#opens.signal);
    if (this.#signal?.aborted) {
      process.nextTick(this.#onAbort);
    } else {
      this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** What part `index` counts for; only asked of parts that are loaded. */
  #cost(index: number): number {
    return costOf(this.#parts.at(index)!);
  }

  /** Opens parts ahead while the byte budget allows (and always the next one). */
  #fill(): void {
    const parts = this.#parts;
    while (this.#next < parts.count && !this.destroyed) {
      // 0 opens the current part, 1 the next one (always allowed), more need budget.
      const ahead = this.#next - this.#current;
      if (ahead > this.#maxAhead) break;
      // Not loaded yet: its page is on the way, and `#pump` runs again when it is there.
      const part = parts.at(this.#next);
      if (part === undefined) break;
      const cost = costOf(part);
      if (ahead > 1) {
        if (this.#aheadBytes + cost > this.#budget) break;
        if (this.#pool) {
          if (!this.#pool.tryTake(cost)) break;
          this.#taken += cost;
        }
      }
      if (ahead >= 1) this.#aheadBytes += cost;
      const size = part.size === null ? undefined : part.size;
      const p = openStream(this.#store, part.ref, this.#opens.signal, size);
      p.then(
        // A stream opened ahead has no reader yet: an 'error' on it (the abort signal, a read
        // failure) with no listener would crash the process. It is not lost: the stream is
        // `errored`, which `#attach` checks when its turn comes.
        (stream) => stream.on("error", () => {}),
        () => {}, // observed when its turn comes; avoids an unhandled rejection meanwhile
      );
      this.#opened.set(this.#next, p);
      this.#next++;
    }
  }

  override _read(): void {
    this.#wanted = true;
    this.#pump();
  }

  /** Moves bytes from the current part to the consumer until it says stop or must wait. */
  #pump(): void {
    while (this.#wanted && !this.destroyed) {
      const stream = this.#stream;
      if (!stream) {
        if (this.#opening) return;
        if (this.#current >= this.#parts.count) {
          this.push(null);
          return;
        }
        this.#fill();
        const opened = this.#opened.get(this.#current);
        if (opened === undefined) return; // its page is loading; `#pump` runs again then
        this.#opening = true;
        opened.then(
          (s) => {
            this.#opening = false;
            this.#attach(s);
          },
          (err: Error) => this.destroy(err),
        );
        return;
      }
      const piece = stream.read() as Buffer | null;
      if (piece === null) return; // 'readable' or 'end' follows
      this.#partBytes += piece.length;
      if (!this.push(piece)) this.#wanted = false;
    }
  }

  #attach(stream: Readable): void {
    if (this.destroyed) {
      stream.destroy();
      return;
    }
    if (stream.errored) {
      this.destroy(stream.errored);
      return;
    }
    this.#stream = stream;
    stream.on("readable", this.#onReadable);
    stream.once("end", this.#onEnd);
    stream.on("error", this.#onError);
    this.#pump();
  }

  #detach(stream: Readable): void {
    stream.off("readable", this.#onReadable);
    stream.off("end", this.#onEnd);
    stream.off("error", this.#onError);
  }

  #partDone(): void {
    const stream = this.#stream;
    if (!stream) return; // destroyed meanwhile
    this.#detach(stream);
    this.#stream = undefined;
    // Whatever the backend did with the size hint: a file that turned out shorter or longer
    // than its row says (truncated while streamed, a backend that ignores the hint) fails the
    // download instead of serving other bytes.
    const size = this.#parts.at(this.#current)!.size;
    const sent = this.#partBytes;
    this.#partBytes = 0;
    if (size !== undefined && size !== null && sent !== size) {
      this.destroy(new StorageError(`stored file ${this.#current} of the NAR has ${sent} bytes, ${size} were recorded`));
      return;
    }
    this.#opened.delete(this.#current);
    this.#current++;
    this.#parts.release(this.#current);
    if (this.#current < this.#next) {
      const cost = this.#cost(this.#current);
      this.#aheadBytes -= cost;
      this.#giveBack();
    }
    this.#fill();
    this.#pump();
  }

  /**
   * Returns pool bytes beyond what the parts still ahead hold. The first part ahead is never
   * taken from the pool, so the pool's share is `#aheadBytes` less that part's cost.
   */
  #giveBack(): void {
    if (!this.#pool) return;
    const first = this.#current + 1 < this.#next ? this.#cost(this.#current + 1) : 0;
    const keep = Math.max(0, this.#aheadBytes - first);
    if (this.#taken > keep) {
      this.#pool.give(this.#taken - keep);
      this.#taken = keep;
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#pool?.give(this.#taken);
    if (!this.#opens.signal.aborted) this.#opens.abort(err ?? new Error("download closed"));
    this.#taken = 0;
    const stream = this.#stream;
    if (stream) {
      // An 'end' already scheduled must not advance a destroyed concatenation.
      this.#detach(stream);
      stream.on("error", () => {});
      stream.destroy();
    }
    this.#stream = undefined;
    // Close whatever was opened ahead and not consumed.
    for (let i = this.#current; i < this.#next; i++) {
      this.#opened.get(i)?.then((s) => s.destroy(), () => {});
      this.#opened.delete(i);
    }
    this.#next = this.#parts.count;
    callback(err);
  }
}
