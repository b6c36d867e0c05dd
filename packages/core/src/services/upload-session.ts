import type { Clock } from "../clock.ts";
import type { Database, Repositories } from "../database/database.ts";
import type { ChunkRow, CompressionType, NarRow, NewChunk, NewNar } from "../database/model.ts";
import { UploadLeaseLostError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { remoteFileKey } from "../storage/remote-file.ts";
import { UnmarkedChunks, type StoredChunkFile } from "./unmarked-chunks.ts";

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
  readonly #unmarked = new UnmarkedChunks();
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

  /**
   * Opens the lease and looks for a valid NAR with `narHash` (held when found), in one
   * transaction; when there is none and `pendingNar` is given, inserts it pending and held, in
   * that same transaction.
   */
  async begin(narHash: string, pendingNar?: NewNar): Promise<{ existing: NarRow | null; pendingNarId: number | null }> {
    if (this.#lease) throw new Error("UploadSession.begin called twice");
    const result = await this.db.transaction(async (tx) => {
      const leaseId = await tx.leases.openLease(this.expiry());
      const existing = await tx.leases.findAndLockNar(leaseId, narHash);
      const pendingNarId = !existing && pendingNar ? await tx.leases.insertPendingNar(leaseId, pendingNar) : null;
      return { leaseId, existing, pendingNarId };
    });
    this.#adopt(Promise.resolve(result.leaseId));
    return { existing: result.existing, pendingNarId: result.pendingNarId };
  }

  /** Inserts a pending NAR held by this request (state `P`, whatever `nar.state` says). */
  async insertPendingNar(nar: NewNar): Promise<number> {
    return this.db.leases.insertPendingNar(await this.lease(), nar);
  }

  /**
   * Chunk-level dedup for a set of distinct hashes, in one transaction: holds the valid chunk of
   * each hash that has one, and inserts `rowsFor(the others)` pending and held (remembered as
   * created). Chunks stored since the last transaction are marked valid in it too.
   */
  async claimChunks(
    chunkHashes: readonly string[],
    compression: CompressionType,
    rowsFor: (missing: readonly string[]) => NewChunk[],
  ): Promise<{ found: Map<string, ChunkRow>; rows: NewChunk[]; ids: number[] }> {
    const leaseId = await this.lease();
    const claimed = await this.#withUnmarked(async (tx) => {
      const found = chunkHashes.length > 0 ? await tx.leases.findAndLockChunks(leaseId, chunkHashes, compression) : new Map<string, ChunkRow>();
      const rows = rowsFor(chunkHashes.filter((h) => !found.has(h)));
      const ids = rows.length > 0 ? await tx.leases.insertPendingChunks(leaseId, rows) : [];
      return { found, rows, ids };
    });
    claimed.ids.forEach((id, i) => {
      this.#createdIds.push(id);
      this.#createdKeys.push(remoteFileKey(claimed.rows[i]!.remoteFile));
    });
    return claimed;
  }

  /**
   * Queues a chunk this request stored, to be marked valid with its next claim or its commit;
   * `onValid` runs once that has committed. With `durable` (the store's `syncWrites` after a
   * write with `deferSync`), not before that has resolved; the commit waits for it.
   */
  chunkStored(file: StoredChunkFile, onValid?: () => void, durable?: Promise<void>): void {
    this.#unmarked.add(file, onValid, durable);
  }

  /**
   * Commits the upload in one transaction: renews the lease (throwing `UploadLeaseLostError`,
   * and committing nothing, when garbage collection already took it, so a commit never
   * references rows whose holds were given back), marks the stored chunks valid once their
   * files are durable, runs `work` and closes the lease. The object `work` writes protects what
   * the holds protected.
   */
  async commit<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
    const leaseId = await this.lease();
    // Outside the transaction: the disk is not waited for while holding the database's writer.
    await this.#unmarked.whenDurable();
    const result = await this.#withUnmarked(async (tx) => {
      if (this.#lost || !(await tx.leases.renewLease(leaseId, this.expiry()))) {
        this.#lost = true;
        throw new UploadLeaseLostError(leaseId);
      }
      const done = await work(tx);
      await tx.leases.closeLease(leaseId);
      return done;
    });
    this.#stopRenewing();
    this.#lease = undefined;
    return result;
  }

  /** Runs `fn` in a transaction that also marks the queued stored chunks valid. */
  async #withUnmarked<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    const taken = this.#unmarked.take();
    let result: T;
    try {
      result = await this.db.transaction(async (tx) => {
        await taken.mark(tx);
        return fn(tx);
      });
    } catch (err) {
      taken.restore();
      throw err;
    }
    taken.committed();
    return result;
  }

  /** Drops every hold this request took (chunks and NARs). Safe to call more than once. */
  async release(): Promise<void> {
    const lease = this.#lease;
    this.#lease = undefined;
    this.#stopRenewing();
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

  /** The lease's id, opened on first use (when `begin` did not open it). */
  private lease(): Promise<number> {
    return this.#lease ?? this.#adopt(this.db.leases.openLease(this.expiry()));
  }

  /** Makes `opened` this request's lease, renewed by a timer once it has an id. */
  #adopt(opened: Promise<number>): Promise<number> {
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

  #stopRenewing(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  private async renew(id: number): Promise<void> {
    try {
      const renewed = await this.db.leases.renewLease(id, this.expiry());
      // A renewal that raced with the commit finds the lease closed: nothing was lost.
      if (!renewed && this.#lease !== undefined) {
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
