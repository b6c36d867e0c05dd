import type { Clock } from "../clock.ts";
import type { EngineConfig } from "../config/engine-config.ts";
import type { Database } from "../database/database.ts";
import type { ChunkRow } from "../database/model.ts";
import { inject, injectable } from "../di/index.ts";
import { BLOB_STORE, CLOCK, DATABASE, ENGINE_CONFIG, LOGGER, NARINFO_CACHE } from "../di/tokens.ts";
import type { Logger } from "../logger.ts";
import type { BlobStore, IoOptions } from "../storage/blob-store.ts";
import {
  DEFAULT_GC_BATCH_SIZE,
  DEFAULT_GC_DELETE_CONCURRENCY,
  DEFAULT_ORPHAN_FILE_GRACE_SECONDS,
  DEFAULT_PENDING_GRACE_SECONDS,
  emptyReport,
  GC_OPTIONS,
  type GarbageCollectorOptions,
  type GcReport,
} from "./gc-report.ts";
import { sweepUnreferencedFiles } from "./gc-sweep.ts";
import type { NarInfoCache } from "./narinfo-cache.ts";
import { forEachConcurrent } from "../util/for-each-concurrent.ts";

export * from "./gc-report.ts";

function nonNegative(value: number, name: string): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be >= 0, got ${value}`);
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Attic's garbage collection (`server/src/gc.rs`) in three levels: expire objects by retention,
 * delete NARs nothing references, then mark unreferenced chunks `D`, delete their files and
 * their rows. Unlike Attic it gives back the holds of uploads whose lease expired (#66),
 * reclaims rows a crashed upload left pending (#64), works through every batch in one run
 * (#266), sweeps storage files no row references, and takes a database-wide lock so only one
 * collector runs at a time however many servers share the database.
 */
@injectable()
export class GarbageCollector {
  readonly batchSize: number;
  readonly pendingGraceSeconds: number;
  readonly orphanFileGraceSeconds: number;
  readonly deleteConcurrency: number;

  constructor(
    @inject(DATABASE) private readonly db: Database,
    @inject(BLOB_STORE) private readonly store: BlobStore,
    @inject(ENGINE_CONFIG) private readonly config: EngineConfig,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(GC_OPTIONS) options: GarbageCollectorOptions,
    @inject(NARINFO_CACHE) private readonly narInfos: NarInfoCache,
  ) {
    this.batchSize = positiveInteger(options.batchSize ?? DEFAULT_GC_BATCH_SIZE, "batchSize");
    const gc = config["garbage-collection"];
    this.pendingGraceSeconds = nonNegative(options.pendingGraceSeconds ?? gc["pending-grace-period"] ?? DEFAULT_PENDING_GRACE_SECONDS, "pendingGraceSeconds");
    this.orphanFileGraceSeconds = nonNegative(
      options.orphanFileGraceSeconds ?? gc["orphan-file-grace-period"] ?? DEFAULT_ORPHAN_FILE_GRACE_SECONDS,
      "orphanFileGraceSeconds",
    );
    this.deleteConcurrency = positiveInteger(options.deleteConcurrency ?? DEFAULT_GC_DELETE_CONCURRENCY, "deleteConcurrency");
  }

  /**
   * One full pass, unless another collector holds the database-wide lock: then nothing is done
   * and the report says `skipped`. Database errors abort the pass (and propagate); storage
   * errors are counted.
   */
  async runOnce(options: IoOptions = {}): Promise<GcReport> {
    const { signal } = options;
    const lock = await this.db.tryAcquireGcLock();
    if (!lock) {
      this.logger.info("garbage collection skipped: another collector is running");
      return { ...emptyReport(), skipped: true };
    }
    try {
      return await this.collect(signal);
    } finally {
      try {
        await lock.release();
      } finally {
        // Expired objects and deleted caches must stop being served from memory.
        this.narInfos.invalidateAll();
      }
    }
  }

  private async collect(signal: AbortSignal | undefined): Promise<GcReport> {
    const report = emptyReport();
    const startedMs = Date.now();
    const now = this.clock.now().getTime();
    report.expiredObjects = await this.expireObjects(signal);
    report.orphanNars = await this.untilShort(signal, () => this.db.gc.deleteOrphanNars(this.batchSize));
    // Dead uploads' holds go before the levels that look at holders_count and pending rows.
    await this.untilShort(signal, async () => {
      const { leases, holds } = await this.db.gc.reapExpiredLeases(new Date(now), this.batchSize);
      report.expiredLeases += leases;
      report.releasedHolds += holds;
      return leases;
    });
    // A NAR a dead upload held is an orphan now: a second pass catches it in the same run.
    if (report.expiredLeases > 0) report.orphanNars += await this.untilShort(signal, () => this.db.gc.deleteOrphanNars(this.batchSize));
    const pendingCutoff = new Date(now - this.pendingGraceSeconds * 1000);
    report.stalePendingNars = await this.untilShort(signal, () => this.db.gc.deleteStalePendingNars(pendingCutoff, this.batchSize));
    await this.untilShort(signal, () => this.db.gc.markOrphanChunksDeleted(pendingCutoff, this.batchSize));
    await this.deleteMarkedChunks(report, signal);
    const swept = await sweepUnreferencedFiles(this.db, this.store, this.logger, {
      olderThan: new Date(now - this.orphanFileGraceSeconds * 1000),
      batchSize: this.batchSize,
      concurrency: this.deleteConcurrency,
      ...(signal ? { signal } : {}),
    });
    report.sweptFiles = swept.files;
    report.sweptBytes = swept.bytes;
    report.failedSweeps = swept.failed;
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
    await forEachConcurrent(rows, this.deleteConcurrency, async (chunk) => {
      try {
        await this.store.delete(chunk.remoteFile, signal ? { signal } : {});
        gone.push(chunk);
      } catch (err) {
        if (signal?.aborted) throw err;
        this.logger.warn({ err, chunkId: chunk.id, remoteFileId: chunk.remoteFileId }, "could not delete a chunk file; retrying next run");
      }
    });
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
