import type { Repositories } from "../database/database.ts";

/** A chunk file this upload has stored, with the hashes to mark its row valid. */
export interface StoredChunkFile {
  id: number;
  fileHash: string;
  fileSize: number;
}

interface Entry {
  file: StoredChunkFile;
  onValid: (() => void) | undefined;
  /** False until the file is durable (see `add`). */
  durable: boolean;
}

/**
 * Chunks an upload has stored but not yet marked valid. Marking them rides on the upload's next
 * claim or its commit, in that transaction, instead of costing a transaction of its own: on
 * SQLite every transaction queues for the one writer, and per-batch transactions, not bytes,
 * bounded ingest. Until marked, a row is pending and held by the upload's lease, so garbage
 * collection leaves it alone and a failed upload removes it with the rest of what it created.
 *
 * A row is marked valid only once its file is durable. A file written with `deferSync` becomes
 * durable when the store's flush settles (`add`'s `durable`); a claim marks only the files
 * already durable and leaves the rest to a later one, so no claim waits for the disk, and the
 * commit waits for them all (`whenDurable`).
 */
export class UnmarkedChunks {
  #entries: Entry[] = [];
  /** Flushes not yet settled, with the entries each covers. */
  readonly #flushes = new Map<Promise<void>, Entry[]>();
  /** The first flush failure: the files it covered may not survive a crash, so the upload fails. */
  #failure: { error: unknown } | undefined;

  /** Queues a stored file; `durable`, when given, settles once the file is durable. */
  add(file: StoredChunkFile, onValid?: () => void, durable?: Promise<void>): void {
    const entry: Entry = { file, onValid, durable: durable === undefined };
    this.#entries.push(entry);
    if (durable === undefined) return;
    const covered = this.#flushes.get(durable);
    if (covered) {
      covered.push(entry);
      return;
    }
    this.#flushes.set(durable, [entry]);
    // The entries are flagged in the same step that forgets the flush, so once no flush is
    // left every entry is flagged (`whenDurable` relies on it).
    durable.then(
      () => {
        for (const e of this.#flushes.get(durable) ?? []) e.durable = true;
        this.#flushes.delete(durable);
      },
      (error: unknown) => {
        this.#flushes.delete(durable);
        this.#failure ??= { error };
      },
    );
  }

  /** Resolves once every queued file is durable; rejects with the first flush failure. */
  async whenDurable(): Promise<void> {
    while (this.#flushes.size > 0) await Promise.allSettled([...this.#flushes.keys()]);
    if (this.#failure) throw this.#failure.error;
  }

  /**
   * Takes the queued chunks whose files are durable, to be marked valid (`mark`) inside a
   * transaction. Once that has committed, `committed` runs their callbacks; if it rolled back,
   * `restore` queues them again. Throws a flush failure instead.
   */
  take(): { mark: (tx: Repositories) => Promise<void>; committed: () => void; restore: () => void } {
    if (this.#failure) throw this.#failure.error;
    const taken: Entry[] = [];
    const waiting: Entry[] = [];
    for (const entry of this.#entries) (entry.durable ? taken : waiting).push(entry);
    this.#entries = waiting;
    return {
      mark: async (tx) => {
        if (taken.length > 0) await tx.chunks.markChunksValid(taken.map((e) => e.file));
      },
      committed: () => taken.forEach((e) => e.onValid?.()),
      restore: () => this.#entries.unshift(...taken),
    };
  }
}
