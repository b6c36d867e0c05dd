import type { Clock } from "../clock.ts";
import type { Database } from "../database/database.ts";
import type { ChunkRow, CompressionType, NarRow, NewChunk, NewNar } from "../database/model.ts";
import type { Logger } from "../logger.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { remoteFileKey } from "../storage/remote-file.ts";

/** Default lifetime (seconds) of an upload's lease without renewal. */
export const DEFAULT_UPLOAD_LEASE_SECONDS = 300;

export interface UploadSessionOptions {
  /**
   * Seconds the holds outlive the last renewal (renewed every third of it). After a crash,
   * garbage collection gives them back once this has passed. Default 300.
   */
  leaseSeconds?: number;
  clock?: Clock;
}

/** The lease was reaped (renewals failed for a whole lease period): the holds are gone. */
export class UploadLeaseLostError extends Error {
  constructor(leaseId: number) {
    super(`The upload's lease ${leaseId} expired and was reclaimed by garbage collection`);
    this.name = "UploadLeaseLostError";
  }
}

/**
 * What one upload request holds and has created, so it can let go on success and leave nothing
 * behind on failure. Every hold (find-and-lock, or a row inserted held) is recorded under one
 * lease that a timer renews while the request runs; if the process dies, the lease expires and
 * garbage collection gives the holds back (Attic #66). It remembers the chunks this request
 * inserted as row ids and storage keys only (about 60 bytes a chunk), because a 2 GiB NAR
 * has some 32,000 of them and the list lives as long as the upload.
 */
export class UploadSession {
  /** Ids of the chunk rows this request inserted, and (same index) their storage keys. */
  readonly #createdIds: number[] = [];
  readonly #createdKeys: string[] = [];
  readonly leaseSeconds: number;
  #lease: Promise<number> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lost = false;
  readonly #clock: Clock | undefined;

  constructor(
    private readonly db: Database,
    private readonly store: BlobStore,
    private readonly logger: Logger,
    options: UploadSessionOptions = {},
  ) {
    this.leaseSeconds = options.leaseSeconds ?? DEFAULT_UPLOAD_LEASE_SECONDS;
    this.#clock = options.clock;
  }

  async findAndLockNar(narHash: string): Promise<NarRow | null> {
    return this.db.leases.findAndLockNar(await this.lease(), narHash);
  }

  /** Inserts a pending NAR held by this request (state `P`, whatever `nar.state` says). */
  async insertPendingNar(nar: NewNar): Promise<number> {
    return this.db.leases.insertPendingNar(await this.lease(), nar);
  }

  async findAndLockChunk(chunkHash: string, compression: CompressionType): Promise<ChunkRow | null> {
    return this.db.leases.findAndLockChunk(await this.lease(), chunkHash, compression);
  }

  async findAndLockChunks(chunkHashes: readonly string[], compression: CompressionType): Promise<Map<string, ChunkRow>> {
    return this.db.leases.findAndLockChunks(await this.lease(), chunkHashes, compression);
  }

  /** Inserts pending chunks held by this request and remembers them as created. Ids in order. */
  async insertPendingChunks(chunks: readonly NewChunk[]): Promise<number[]> {
    const ids = await this.db.leases.insertPendingChunks(await this.lease(), chunks);
    ids.forEach((id, i) => {
      this.#createdIds.push(id);
      this.#createdKeys.push(remoteFileKey(chunks[i]!.remoteFile));
    });
    return ids;
  }

  async insertPendingChunk(chunk: NewChunk): Promise<number> {
    return (await this.insertPendingChunks([chunk]))[0]!;
  }

  /**
   * Renews the lease now; throws `UploadLeaseLostError` when garbage collection already took it.
   * Called before committing, so a commit never references rows whose holds were given back.
   */
  async keepAlive(): Promise<void> {
    if (!this.#lease) return;
    const id = await this.#lease;
    if (this.#lost || !(await this.db.leases.renewLease(id, this.expiry()))) {
      this.#lost = true;
      throw new UploadLeaseLostError(id);
    }
  }

  /** Drops every hold this request took (chunks and NARs). Safe to call more than once. */
  async release(): Promise<void> {
    const lease = this.#lease;
    this.#lease = undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!lease) return;
    let id: number;
    try {
      id = await lease;
    } catch {
      return; // the lease was never opened, so nothing is held
    }
    await this.db.leases.closeLease(id);
  }

  /**
   * After a failed upload (the NAR row already gone): removes chunks this request created that
   * nobody else has picked up meanwhile, row first, then the file. Never throws: a leftover is
   * logged and left to garbage collection.
   */
  async discardCreated(): Promise<void> {
    const ids = this.#createdIds.splice(0);
    const keys = this.#createdKeys.splice(0);
    for (const [i, id] of ids.entries()) {
      try {
        // The same store made the reference from this key when the chunk was inserted.
        if (await this.db.chunks.deleteChunkIfUnused(id)) await this.store.delete(this.store.refFor(keys[i]!));
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

  private expiry(): Date {
    const now = this.#clock ? this.#clock.now().getTime() : Date.now();
    return new Date(now + this.leaseSeconds * 1000);
  }

  /** The lease's id, opened on first use, with its renewal timer. */
  private lease(): Promise<number> {
    if (this.#lease) return this.#lease;
    const opened = this.db.leases.openLease(this.expiry());
    this.#lease = opened;
    opened.then(
      (id) => {
        if (this.#lease !== opened) return; // released meanwhile
        this.#timer = setInterval(() => void this.renew(id), (this.leaseSeconds * 1000) / 3);
        this.#timer.unref();
      },
      () => {
        if (this.#lease === opened) this.#lease = undefined;
      },
    );
    return opened;
  }

  private async renew(id: number): Promise<void> {
    try {
      if (!(await this.db.leases.renewLease(id, this.expiry()))) {
        this.#lost = true;
        if (this.#timer) clearInterval(this.#timer);
        this.logger.warn({ leaseId: id }, "an upload's lease was reclaimed by garbage collection");
      }
    } catch (err) {
      // A failed renewal is retried on the next tick; the lease only lapses after a whole period.
      this.logger.warn({ err, leaseId: id }, "could not renew an upload's lease");
    }
  }
}
