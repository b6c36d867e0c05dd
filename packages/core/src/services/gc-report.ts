import { createToken } from "../di/index.ts";

/** Rows per GC statement. Attic's chunk batch on SQLite; the loop makes the size matter little. */
export const DEFAULT_GC_BATCH_SIZE = 500;
/** Seconds (1 day) a NAR or chunk may stay pending before GC takes it for a crashed upload's. */
export const DEFAULT_PENDING_GRACE_SECONDS = 86_400;
/** Seconds (1 day) a storage file no row references is kept before the sweep deletes it. */
export const DEFAULT_ORPHAN_FILE_GRACE_SECONDS = 86_400;
/** Storage deletions in flight at once (Attic's limit). */
export const DEFAULT_GC_DELETE_CONCURRENCY = 20;

/**
 * Tuning of the collector, overriding `[garbage-collection]` (`pending-grace-period`,
 * `orphan-file-grace-period`) where both exist.
 */
export interface GarbageCollectorOptions {
  /** Rows per batch statement; each level loops until a batch comes back short. */
  batchSize?: number;
  /**
   * Seconds after which a row still pending (`P`) is reclaimed: a live upload finishes well
   * within it, a crashed one never does (Attic #64). A row held under a live upload lease is
   * never reclaimed. Default: `pending-grace-period` (1 day).
   */
  pendingGraceSeconds?: number;
  /**
   * Seconds a storage file no chunk row references must have existed before the sweep deletes
   * it. Default: `orphan-file-grace-period` (1 day).
   */
  orphanFileGraceSeconds?: number;
  /** Storage deletions at once. Default 20. */
  deleteConcurrency?: number;
}

/** Collector options in the engine's container (`createEngine` registers `EngineOptions.gc`). */
export const GC_OPTIONS = createToken<GarbageCollectorOptions>("GarbageCollectorOptions");

/** What one run did. */
export interface GcReport {
  /** True when another collector held the lock: this run did nothing. */
  skipped: boolean;
  /** Objects deleted by retention. */
  expiredObjects: number;
  /** Valid NARs deleted because no object referenced them. */
  orphanNars: number;
  /** Pending NARs deleted because they outlived the grace period. */
  stalePendingNars: number;
  /** Upload leases that had expired (a crashed or stalled upload), closed by this run. */
  expiredLeases: number;
  /** Holds (`holders_count` units) those leases still had, given back. */
  releasedHolds: number;
  /** Chunk rows deleted together with their storage files. */
  deletedChunks: number;
  /** Sum of the deleted chunks' stored (`file_size`) bytes; pending chunks count 0. */
  deletedBytes: number;
  /** Chunks whose storage deletion failed: they stay in state `D` for the next run. */
  failedDeletions: number;
  /** Storage files no row referenced, deleted by the sweep. */
  sweptFiles: number;
  /** Their sizes, summed (bytes). */
  sweptBytes: number;
  /** Unreferenced files whose deletion failed (tried again next run). */
  failedSweeps: number;
}

/** A report of a run that did nothing. */
export function emptyReport(): GcReport {
  return {
    skipped: false,
    expiredObjects: 0,
    orphanNars: 0,
    stalePendingNars: 0,
    expiredLeases: 0,
    releasedHolds: 0,
    deletedChunks: 0,
    deletedBytes: 0,
    failedDeletions: 0,
    sweptFiles: 0,
    sweptBytes: 0,
    failedSweeps: 0,
  };
}
