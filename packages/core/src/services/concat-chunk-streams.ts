import { setMaxListeners } from "node:events";
import { Readable } from "node:stream";
import type { BlobStore, SizedFile } from "../storage/blob-store.ts";
import type { RemoteFile } from "../storage/remote-file.ts";
import { StorageError } from "../errors.ts";
import { DEFAULT_PART_PAGE_SIZE, PartPages, type PartSource, type StoredPart } from "./part-pages.ts";
import type { ReadAheadPool } from "./read-ahead-pool.ts";
import type { SlotPool } from "../util/slot-pool.ts";

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
   * read-ahead memory of one download. The next file (or group) is opened whatever its size
   * (a backend streams big files, so opening one costs little).
   */
  readAheadBytes: number;
  /** Where the read-ahead beyond the first file ahead is taken from, when shared. */
  pool?: ReadAheadPool;
  /** Opens (a file, or a group read together) ahead at most, whatever their sizes. */
  maxFilesAhead?: number;
  /** Cancels the download: opening stops and every opened file is closed. */
  signal?: AbortSignal;
  /** Parts described per page of a `PartSource` (default 512); an array is one page. */
  pageSize?: number;
  /**
   * With a store that has `readMany`: consecutive files of known size are read together up to
   * this many bytes (default 256 KiB, or the slot size of `slots`), and each group is sent as
   * one piece.
   */
  groupBytes?: number;
  /**
   * Where groups are read into. A consumer that knows when it is done with a piece hands it
   * back with the stream's `release`, and its slot is reused (see `SlotPool`).
   */
  slots?: SlotPool;
}

/** The result of `concatChunkStreams`. */
export interface ConcatenatedStream extends Readable {
  /**
   * Hands back a piece this stream pushed, once nothing reads it any more (its socket write
   * has completed), so its memory is reused. Optional for consumers; pieces not handed back
   * are collected as usual. Any other bytes are ignored.
   */
  release(piece: Uint8Array): void;
}

/** What a part of unknown size counts for in the read-ahead budget, bytes. */
const UNKNOWN_SIZE_COST = 64 * 1024;
const DEFAULT_MAX_FILES_AHEAD = 64;
/**
 * Why 256 KiB: a group is one read request and one socket write, and it holds any chunk of
 * Attic's template (at most 256 KiB). 128 KiB groups left the largest chunks to fresh buffers
 * and were slower; 512 KiB ones held more memory with 32 downloads at once, and a download's
 * read-ahead (1 MiB) holds fewer of them (BENCHMARKS.md, thirteenth pass).
 */
export const DEFAULT_GROUP_BYTES = 256 * 1024;

/**
 * Groups beyond the next one are asked for this many at a time, when the budget has room for
 * them all. A store may read the groups asked for in one turn together: local-fs sends them to
 * a reader thread in one message, and each message woke an idle thread, a quarter of a
 * download's main-thread time on a 2-core VM. With pairs a 128 MiB NAR took 358 messages
 * instead of 692 (BENCHMARKS.md, sixteenth pass). Not applied when the budget cannot hold a
 * pair.
 */
const GROUPS_PER_READ = 2;

/**
 * Stored files concatenated in order (Attic's `merge_chunks`), with a read-ahead bounded by
 * bytes, so small chunk files are read several at a time (keeping the I/O thread pool busy)
 * while a download's memory stays bounded by `readAheadBytes`, not by the NAR. Destroying the
 * result, an abort, or a failure closes every file opened so far; a failure is emitted as a
 * stream error, never as a clean end, so a client can't mistake a truncated NAR for a
 * complete one.
 */
export function concatChunkStreams(store: BlobStore, parts: readonly StoredPart[] | PartSource, options: ConcatOptions): ConcatenatedStream {
  return new ConcatStream(store, parts, options);
}

/** The recorded size of a part, or null when unknown. */
function sizeOf(part: StoredPart): number | null {
  return part.size === undefined || part.size === null ? null : part.size;
}

/** Parts `start` to `end - 1`, opened as one file or read as one group. */
interface Unit {
  start: number;
  end: number;
  /** Bytes recorded for its parts; null when a part's size is unknown. */
  size: number | null;
  /** What it counts for in the read-ahead budget, bytes. */
  cost: number;
  /** A file's stream, or a group's bytes. */
  opened: Promise<Readable | Uint8Array>;
}

class ConcatStream extends Readable implements ConcatenatedStream {
  readonly #store: BlobStore;
  /** The part list, a page or two of it at a time. */
  readonly #parts: PartPages;
  readonly #budget: number;
  readonly #maxAhead: number;
  /** 0 when the store cannot read groups. */
  readonly #groupBytes: number;
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
  /** Units opened and not yet sent, in order; the first one is being sent (or awaited). */
  readonly #units: Unit[] = [];
  /** Next part index to open. */
  #next = 0;
  /** Budget used by the units after the first, bytes. */
  #aheadBytes = 0;
  /** The unit being sent, once open: a file's stream ... */
  #stream: Readable | undefined;
  /** ... or a group's bytes, to be pushed. */
  #bytes: Uint8Array | undefined;
  readonly #slots: SlotPool | undefined;
  /** Bytes of the current unit sent so far. */
  #unitBytes = 0;
  /** Waiting for the current unit's open. */
  #opening = false;
  /** The consumer asked for data and `push` has not said stop since. */
  #wanted = false;
  readonly #onAbort = () => this.destroy(this.#signal?.reason as Error);
  readonly #onReadable = () => this.#pump();
  readonly #onEnd = () => {
    if (this.#unitDone()) this.#pump();
  };
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
    this.#slots = options.slots;
    const groupBytes = options.slots ? Math.min(options.slots.slotBytes, options.groupBytes ?? Infinity) : (options.groupBytes ?? DEFAULT_GROUP_BYTES);
    this.#groupBytes = store.readMany ? Math.max(0, groupBytes) : 0;
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

  /** Opens units ahead while the byte budget allows (and always the next one). */
  #fill(): void {
    const parts = this.#parts;
    // Groups opened by this call, and the room a first one beyond the next needs.
    let groups = 0;
    const pairRoom = GROUPS_PER_READ * this.#groupBytes;
    while (this.#next < parts.count && !this.destroyed) {
      // 0 opens the current unit, 1 the next one (always allowed), more need budget.
      const ahead = this.#units.length;
      if (ahead > this.#maxAhead) break;
      // Not loaded yet: its page is on the way, and `#pump` runs again when it is there.
      const part = parts.at(this.#next);
      if (part === undefined) break;
      const size = sizeOf(part);
      const cost = size ?? UNKNOWN_SIZE_COST;
      const groupable = size !== null && size <= this.#groupBytes && this.#groupBytes > 0;
      let room = Infinity;
      if (ahead > 1) {
        room = Math.min(this.#budget - this.#aheadBytes, this.#pool ? this.#pool.free : Infinity);
        if (cost > room) break;
        // A group waits for room for half a slot at least: groups cut to whatever the last one
        // freed shrink, and each group is a reader wake-up and a socket write.
        if (groupable && room < this.#groupBytes / 2) break;
        if (groupable && groups === 0 && pairRoom <= this.#budget && room < pairRoom) break;
      }
      if (groupable) groups++;
      const unit = groupable ? this.#group(this.#next, Math.min(room, this.#groupBytes)) : this.#single(this.#next, part, size, cost);
      if (ahead > 1 && this.#pool) {
        this.#pool.tryTake(unit.cost);
        this.#taken += unit.cost;
      }
      if (ahead >= 1) this.#aheadBytes += unit.cost;
      // A unit opened ahead has no reader yet: an 'error' on its stream (the abort signal, a
      // read failure) with no listener would crash the process. It is not lost: the stream is
      // `errored`, which `#attach` checks when its turn comes.
      unit.opened.then(
        (body) => {
          if (!(body instanceof Uint8Array)) body.on("error", () => {});
        },
        () => {}, // observed when its turn comes; avoids an unhandled rejection meanwhile
      );
      this.#units.push(unit);
      this.#next = unit.end;
    }
  }

  #single(start: number, part: StoredPart, size: number | null, cost: number): Unit {
    const opened = openStream(this.#store, part.ref, this.#opens.signal, size ?? undefined);
    return { start, end: start + 1, size, cost, opened };
  }

  /**
   * Parts from `start` while their sizes are known and their sum stays within `limit`; the
   * first one always fits (`#fill` checked its size against the room and the group size).
   */
  #group(start: number, limit: number): Unit {
    const files: SizedFile[] = [];
    let total = 0;
    let end = start;
    for (; end < this.#parts.count; end++) {
      const part = this.#parts.at(end);
      const size = part === undefined ? null : sizeOf(part);
      if (size === null || total + size > limit) break;
      files.push({ ref: part!.ref, size });
      total += size;
    }
    const into = this.#slots?.take();
    const opened = this.#store.readMany!(files, { signal: this.#opens.signal, ...(into ? { into } : {}) });
    return { start, end, size: total, cost: total, opened };
  }

  release(piece: Uint8Array): void {
    this.#slots?.give(piece);
  }

  override _read(): void {
    this.#wanted = true;
    this.#pump();
  }

  /** Moves bytes from the current unit to the consumer until it says stop or must wait. */
  #pump(): void {
    while (this.#wanted && !this.destroyed) {
      const bytes = this.#bytes;
      if (bytes) {
        this.#unitBytes = bytes.byteLength;
        // A group of another length is not sent at all; `#unitDone` fails the stream.
        if (bytes.byteLength === this.#units[0]!.size && bytes.byteLength > 0 && !this.push(bytes)) this.#wanted = false;
        if (!this.#unitDone()) return;
        continue;
      }
      const stream = this.#stream;
      if (!stream) {
        if (this.#opening) return;
        this.#fill();
        const unit = this.#units[0];
        if (unit === undefined) {
          if (this.#next >= this.#parts.count) this.push(null);
          return; // otherwise its page is loading; `#pump` runs again then
        }
        this.#opening = true;
        unit.opened.then(
          (body) => {
            this.#opening = false;
            if (body instanceof Uint8Array) this.#attachBytes(body);
            else this.#attach(body);
          },
          (err: Error) => this.destroy(err),
        );
        return;
      }
      const piece = stream.read() as Buffer | null;
      if (piece === null) return; // 'readable' or 'end' follows
      this.#unitBytes += piece.length;
      if (!this.push(piece)) this.#wanted = false;
    }
  }

  #attachBytes(bytes: Uint8Array): void {
    if (this.destroyed) {
      this.#slots?.give(bytes);
      return;
    }
    this.#bytes = bytes;
    this.#pump();
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

  /** Moves on past the unit just sent; false when that failed the stream (or it is destroyed). */
  #unitDone(): boolean {
    const stream = this.#stream;
    if (stream) {
      this.#detach(stream);
      this.#stream = undefined;
    } else if (this.#bytes) {
      this.#bytes = undefined;
    } else {
      return false; // destroyed meanwhile
    }
    // Whatever the backend did with the size hint: a file that turned out shorter or longer
    // than its row says (truncated while streamed, a backend that ignores the hint) fails the
    // download instead of serving other bytes.
    const unit = this.#units.shift()!;
    const sent = this.#unitBytes;
    this.#unitBytes = 0;
    if (unit.size !== null && sent !== unit.size) {
      const which = unit.end - unit.start === 1 ? `stored file ${unit.start} of the NAR has` : `stored files ${unit.start}-${unit.end - 1} of the NAR have`;
      this.destroy(new StorageError(`${which} ${sent} bytes, ${unit.size} were recorded`));
      return false;
    }
    this.#parts.release(unit.end);
    const current = this.#units[0];
    if (current !== undefined) {
      this.#aheadBytes -= current.cost;
      this.#giveBack();
    }
    this.#fill();
    return true;
  }

  /**
   * Returns pool bytes beyond what the units still ahead hold. The first unit ahead is never
   * taken from the pool, so the pool's share is `#aheadBytes` less that unit's cost.
   */
  #giveBack(): void {
    if (!this.#pool) return;
    const keep = Math.max(0, this.#aheadBytes - (this.#units[1]?.cost ?? 0));
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
    this.#bytes = undefined;
    // Close whatever was opened ahead and not consumed. A group's slot is reused only once its
    // read has answered: after an abort a reader may still be writing into it.
    for (const unit of this.#units.splice(0)) {
      unit.opened.then(
        (body) => {
          if (body instanceof Uint8Array) this.#slots?.give(body);
          else body.destroy();
        },
        () => {},
      );
    }
    this.#next = this.#parts.count;
    callback(err);
  }
}
