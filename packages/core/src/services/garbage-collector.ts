import type { Clock } from "../clock.ts";
import type { EngineConfig } from "../config/engine-config.ts";
import type { Database } from "../database/database.ts";
import type { ChunkRow } from "../database/model.ts";
import { createToken, inject, injectable } from "../di/index.ts";
import { BLOB_STORE, CLOCK, DATABASE, ENGINE_CONFIG, LOGGER } from "../di/tokens.ts";
import type { Logger } from "../logger.ts";
import type { BlobStore, IoOptions } from "../storage/blob-store.ts";

/** Rows per GC statement. Attic's chunk batch on SQLite; the loop makes the size matter little. */
export const DEFAULT_GC_BATCH_SIZE = 500;
/** Seconds (1 day) a NAR or chunk may stay pending before GC takes it for a crashed upload's. */
export const DEFAULT_PENDING_GRACE_SECONDS = 86_400;
/** Storage deletions in flight at once (Attic's limit). */
export const DEFAULT_GC_DELETE_CONCURRENCY = 20;

/**
 * Tuning of the collector. Deliberately not `server.toml` keys: Attic's config rejects unknown
 * keys, and a shared config file must stay valid for both servers.
 */
export interface GarbageCollectorOptions {
  /** Rows per batch statement; each level loops until a batch comes back short. */
  batchSize?: number;
  /**
   * Seconds after which a row still pending (`P`) is reclaimed: a live upload finishes well
   * within it, a crashed one never does (Attic #64). Default 86400 (1 day).
   */
  pendingGraceSeconds?: number;
  /** Storage deletions at once. Default 20. */
  deleteConcurrency?: number;
}

/** Collector options in the engine's container (`createEngine` registers `EngineOptions.gc`). */
export const GC_OPTIONS = createToken<GarbageCollectorOptions>("GarbageCollectorOptions");

/** What one run did. */
export interface GcReport {
  /** Objects deleted by retention. */
  expiredObjects: number;
  /** Valid NARs deleted because no object referenced them. */
  orphanNars: number;
  /** Pending NARs deleted because they outlived the grace period. */
  stalePendingNars: number;
  /** Chunk rows deleted together with their storage files. */
  deletedChunks: number;
  /** Sum of the deleted chunks' stored (`file_size`) bytes; pending chunks count 0. */
  deletedBytes: number;
  /** Chunks whose storage deletion failed: they stay in state `D` for the next run. */
  failedDeletions: number;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Attic's garbage collection (`server/src/gc.rs`) in three levels: expire objects by retention,
 * delete NARs nothing references, then mark unreferenced chunks `D`, delete their files and
 * their rows. Unlike Attic it reclaims rows a crashed upload left pending and works through
 * every batch in one run (Attic #266). Run it on one node at a time.
 */
@injectable()
export class GarbageCollector {
  readonly batchSize: number;
  readonly pendingGraceSeconds: number;
  readonly deleteConcurrency: number;

  constructor(
    @inject(DATABASE) private readonly db: Database,
    @inject(BLOB_STORE) private readonly store: BlobStore,
    @inject(ENGINE_CONFIG) private readonly config: EngineConfig,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(GC_OPTIONS) options: GarbageCollectorOptions,
  ) {
    this.batchSize = positiveInteger(options.batchSize ?? DEFAULT_GC_BATCH_SIZE, "batchSize");
    this.pendingGraceSeconds = options.pendingGraceSeconds ?? DEFAULT_PENDING_GRACE_SECONDS;
    if (!(this.pendingGraceSeconds >= 0)) throw new RangeError(`pendingGraceSeconds must be >= 0, got ${this.pendingGraceSeconds}`);
    this.deleteConcurrency = positiveInteger(options.deleteConcurrency ?? DEFAULT_GC_DELETE_CONCURRENCY, "deleteConcurrency");
  }

  /** One full pass. Database errors abort it (and propagate); storage errors are counted. */
  async runOnce(options: IoOptions = {}): Promise<GcReport> {
    const { signal } = options;
    const report: GcReport = {
      expiredObjects: 0,
      orphanNars: 0,
      stalePendingNars: 0,
      deletedChunks: 0,
      deletedBytes: 0,
      failedDeletions: 0,
    };
    const startedMs = Date.now();
    report.expiredObjects = await this.expireObjects(signal);
    report.orphanNars = await this.untilShort(signal, () => this.db.gc.deleteOrphanNars(this.batchSize));
    const pendingCutoff = new Date(this.clock.now().getTime() - this.pendingGraceSeconds * 1000);
    report.stalePendingNars = await this.untilShort(signal, () => this.db.gc.deleteStalePendingNars(pendingCutoff, this.batchSize));
    await this.untilShort(signal, () => this.db.gc.markOrphanChunksDeleted(pendingCutoff, this.batchSize));
    await this.deleteMarkedChunks(report, signal);
    this.logger.info({ ...report, durationMs: Date.now() - startedMs }, "garbage collection finished");
    return report;
  }

  /**
   * Attic's scheduler: a run now, then one every `intervalSeconds`, until `signal` aborts. A
   * failed run is logged and the next one happens on schedule. An interval of 0 disables
   * collection: this then only waits for the signal.
   */
  async runPeriodically(intervalSeconds: number, signal: AbortSignal): Promise<void> {
    if (intervalSeconds <= 0) {
      this.logger.info("periodic garbage collection is disabled (interval 0)");
      await sleep(Number.POSITIVE_INFINITY, signal);
      return;
    }
    while (!signal.aborted) {
      try {
        await this.runOnce({ signal });
      } catch (err) {
        if (signal.aborted) break;
        this.logger.error({ err }, "garbage collection failed");
      }
      await sleep(intervalSeconds * 1000, signal);
    }
  }

  private async expireObjects(signal: AbortSignal | undefined): Promise<number> {
    const now = this.clock.now().getTime();
    let expired = 0;
    for (const { cacheId, retentionSeconds } of await this.db.gc.cachesWithRetention(this.config["garbage-collection"]["default-retention-period"])) {
      signal?.throwIfAborted();
      expired += await this.db.gc.expireObjects(cacheId, new Date(now - retentionSeconds * 1000));
    }
    return expired;
  }

  /** Repeats a batch statement until it affects fewer rows than a full batch; the total. */
  private async untilShort(signal: AbortSignal | undefined, batch: () => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      signal?.throwIfAborted();
      const n = await batch();
      total += n;
      if (n < this.batchSize) return total;
    }
  }

  /**
   * Deletes the files of chunks in state `D`, then the rows of those whose file is gone. The
   * cursor moves past failures, so they stay `D` for the next run without stalling this one.
   */
  private async deleteMarkedChunks(report: GcReport, signal: AbortSignal | undefined): Promise<void> {
    let afterId = 0;
    for (;;) {
      signal?.throwIfAborted();
      const rows = await this.db.gc.chunksToDelete(this.batchSize, afterId);
      if (rows.length === 0) return;
      afterId = rows[rows.length - 1]!.id;
      const gone = await this.deleteFiles(rows, signal);
      report.failedDeletions += rows.length - gone.length;
      if (gone.length > 0) {
        report.deletedChunks += await this.db.gc.deleteChunkRows(gone.map((c) => c.id));
        report.deletedBytes += gone.reduce((sum, c) => sum + (c.fileSize ?? 0), 0);
      }
      if (rows.length < this.batchSize) return;
    }
  }

  /** Deletes the chunks' files, `deleteConcurrency` at a time; the chunks whose file is gone. */
  private async deleteFiles(rows: readonly ChunkRow[], signal: AbortSignal | undefined): Promise<ChunkRow[]> {
    const gone: ChunkRow[] = [];
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const chunk = rows[next++]!;
        try {
          await this.store.delete(chunk.remoteFile, signal ? { signal } : {});
          gone.push(chunk);
        } catch (err) {
          if (signal?.aborted) throw err;
          this.logger.warn({ err, chunkId: chunk.id, remoteFileId: chunk.remoteFileId }, "could not delete a chunk file; retrying next run");
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deleteConcurrency, rows.length) }, worker));
    return gone;
  }
}

/** setTimeout's longest delay (ms); longer waits are slept in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolves after `ms` (Infinity: never) or when `signal` aborts, whichever comes first. */
async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  for (let left = ms; left > 0 && !signal.aborted; left -= MAX_TIMER_MS) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(left, MAX_TIMER_MS));
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
