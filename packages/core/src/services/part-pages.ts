import type { RemoteFile } from "../storage/remote-file.ts";

/** One stored file of a NAR. */
export interface StoredPart {
  ref: RemoteFile;
  /** The stored file's size in bytes (a chunk row's `fileSize`), when known. */
  size?: number | null;
}

/** Part descriptions loaded at once from a `PartSource` by default: about 100 KiB of heap. */
export const DEFAULT_PART_PAGE_SIZE = 512;

/** The stored files of a NAR, read a page at a time (from the database, for a long NAR). */
export interface PartSource {
  /** How many parts there are. */
  readonly count: number;
  /**
   * Parts `from` to `from + limit - 1` (fewer only at the end of the list). A rejection, or an
   * answer of another length, fails the download.
   */
  load(from: number, limit: number, signal: AbortSignal): Promise<readonly StoredPart[]>;
}

/**
 * The window of a part list a download is in: the page holding the part being read and the
 * next one, loaded ahead so the stream does not stall at a page boundary. A download of a NAR
 * of any length holds at most a few pages of part descriptions, not the whole list (a 1 GiB
 * NAR has some 16,000 chunks). A plain array is one page that is always there.
 */
export class PartPages {
  readonly count: number;
  readonly #source: PartSource | undefined;
  readonly #pageSize: number;
  readonly #pages = new Map<number, readonly StoredPart[]>();
  readonly #loading = new Set<number>();
  readonly #signal: AbortSignal;
  readonly #onLoaded: () => void;
  readonly #onError: (err: Error) => void;

  constructor(
    parts: readonly StoredPart[] | PartSource,
    options: { pageSize: number; signal: AbortSignal; onLoaded: () => void; onError: (err: Error) => void },
  ) {
    this.#signal = options.signal;
    this.#onLoaded = options.onLoaded;
    this.#onError = options.onError;
    if (isPartArray(parts)) {
      this.count = parts.length;
      this.#pageSize = Math.max(1, parts.length);
      this.#pages.set(0, parts);
    } else {
      if (!Number.isSafeInteger(options.pageSize) || options.pageSize < 1) throw new Error(`Invalid page size ${options.pageSize}.`);
      this.count = parts.count;
      this.#source = parts;
      this.#pageSize = options.pageSize;
    }
  }

  /**
   * The part at `index`, or undefined while its page loads: the load starts now and
   * `onLoaded` is called when it is there. Reaching a page also starts loading the next one.
   */
  at(index: number): StoredPart | undefined {
    const page = Math.floor(index / this.#pageSize);
    const parts = this.#pages.get(page);
    this.#load(page);
    this.#load(page + 1);
    return parts?.[index - page * this.#pageSize];
  }

  /** Forgets the pages wholly before `index` (parts already sent). */
  release(index: number): void {
    const below = Math.floor(index / this.#pageSize);
    for (const page of this.#pages.keys()) if (page < below) this.#pages.delete(page);
  }

  #load(page: number): void {
    const source = this.#source;
    const from = page * this.#pageSize;
    if (!source || from >= this.count || this.#pages.has(page) || this.#loading.has(page) || this.#signal.aborted) return;
    this.#loading.add(page);
    loadPage(source, from, Math.min(this.#pageSize, this.count - from), this.#signal).then(
      (parts) => {
        this.#loading.delete(page);
        if (this.#signal.aborted) return;
        this.#pages.set(page, parts);
        this.#onLoaded();
      },
      (err: unknown) => {
        this.#loading.delete(page);
        if (!this.#signal.aborted) this.#onError(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }
}

/** Parts `from` to `from + limit - 1` of `source`; a page of another length is an error. */
async function loadPage(source: PartSource, from: number, limit: number, signal: AbortSignal): Promise<readonly StoredPart[]> {
  const page = await source.load(from, limit, signal);
  if (page.length !== limit) throw new Error(`parts ${from}-${from + limit - 1} of the NAR came back as ${page.length} entries`);
  return page;
}

function isPartArray(parts: readonly StoredPart[] | PartSource): parts is readonly StoredPart[] {
  return Array.isArray(parts);
}

/** Every part in order, a page at a time (for consumers that take one part after another). */
export async function* eachPart(parts: readonly StoredPart[] | PartSource, pageSize: number, signal: AbortSignal): AsyncGenerator<StoredPart> {
  if (isPartArray(parts)) {
    yield* parts;
    return;
  }
  for (let from = 0; from < parts.count; from += pageSize) {
    yield* await loadPage(parts, from, Math.min(pageSize, parts.count - from), signal);
  }
}
