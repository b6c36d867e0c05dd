import type { Database } from "../database/database.ts";
import type { Logger } from "../logger.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import type { RemoteFile } from "../storage/remote-file.ts";

/**
 * What one upload request holds and has created, so it can let go on success and leave nothing
 * behind on failure. Every chunk id in `held` carries one `holders_count` of ours; `created`
 * lists chunks this request inserted (with their storage references).
 */
export class UploadSession {
  readonly held: number[] = [];
  readonly created: Array<{ id: number; ref: RemoteFile }> = [];
  readonly #narLocks: number[] = [];

  constructor(
    private readonly db: Database,
    private readonly store: BlobStore,
    private readonly logger: Logger,
  ) {}

  holdNar(id: number): void {
    this.#narLocks.push(id);
  }

  /** Drops every hold this request took (chunks and NAR). Safe to call once at the end. */
  async release(): Promise<void> {
    const held = this.held.splice(0);
    if (held.length > 0) await this.db.chunks.releaseChunks(held);
    for (const id of this.#narLocks.splice(0)) await this.db.nars.releaseNar(id);
  }

  /**
   * After a failed upload (the NAR row already gone): removes chunks this request created that
   * nobody else has picked up meanwhile, row first, then the file. Never throws: a leftover is
   * logged and left to garbage collection.
   */
  async discardCreated(): Promise<void> {
    for (const { id, ref } of this.created.splice(0)) {
      try {
        if (await this.db.chunks.deleteChunkIfUnused(id)) await this.store.delete(ref);
      } catch (err) {
        this.logger.warn({ err, chunkId: id }, "could not clean up a chunk of a failed upload");
      }
    }
  }

  /**
   * After a failed or superseded upload: drops every hold, then removes what this request
   * created and nobody picked up. The order matters: a chunk is only deleted once unheld.
   */
  async abandon(): Promise<void> {
    await this.release();
    await this.discardCreated();
  }
}
