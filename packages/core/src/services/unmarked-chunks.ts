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
}

/**
 * Chunks an upload has stored but not yet marked valid. Marking them rides on the upload's next
 * claim or its commit, in that transaction, instead of costing a transaction of its own: on
 * SQLite every transaction queues for the one writer, and per-batch transactions, not bytes,
 * bounded ingest. Until marked, a row is pending and held by the upload's lease, so garbage
 * collection leaves it alone and a failed upload removes it with the rest of what it created.
 */
export class UnmarkedChunks {
  #entries: Entry[] = [];

  add(file: StoredChunkFile, onValid?: () => void): void {
    this.#entries.push({ file, onValid });
  }

  /**
   * Takes every queued chunk, to be marked valid (`mark`) inside a transaction. Once that has
   * committed, `committed` runs their callbacks; if it rolled back, `restore` queues them again.
   */
  take(): { mark: (tx: Repositories) => Promise<void>; committed: () => void; restore: () => void } {
    const taken = this.#entries.splice(0);
    return {
      mark: async (tx) => {
        if (taken.length > 0) await tx.chunks.markChunksValid(taken.map((e) => e.file));
      },
      committed: () => taken.forEach((e) => e.onValid?.()),
      restore: () => this.#entries.unshift(...taken),
    };
  }
}
