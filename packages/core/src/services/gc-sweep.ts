import type { Database } from "../database/database.ts";
import type { Logger } from "../logger.ts";
import type { BlobStore, ListedBlob } from "../storage/blob-store.ts";
import { remoteFileId } from "../storage/remote-file.ts";
import { forEachConcurrent } from "../util/for-each-concurrent.ts";

/** What one sweep did. */
export interface SweepResult {
  /** Files deleted because no chunk row referenced them, and leftovers of unfinished writes. */
  files: number;
  /** Their sizes, summed (bytes). */
  bytes: number;
  /** Unreferenced files whose deletion failed (tried again next run). */
  failed: number;
}

export interface SweepOptions {
  /** Files modified at or after this instant are left alone, referenced or not. */
  olderThan: Date;
  /** Listed files per database lookup. */
  batchSize: number;
  /** Deletions at once. */
  concurrency: number;
  signal?: AbortSignal;
}

/** Keys the engine writes (`<uuid>.chunk`); anything else in a bucket is not ours to sweep. */
const CHUNK_KEY = /^[0-9a-z-]+\.chunk$/;

/**
 * Deletes storage files that no chunk row references and that are older than the grace period:
 * leftovers of cleanups that failed half-way. Listing and lookups go a batch at a time, so
 * neither the listing nor the table is ever held in memory whole.
 *
 * Why a young file is never touched: every upload inserts its chunk row before writing the file
 * (and removes the file before the row only when giving a chunk up), so a file without a row is
 * garbage unless its upload is writing it right now; the grace period covers that window and
 * any other writer (an Attic server on the same storage) whatever order it uses.
 */
export async function sweepUnreferencedFiles(db: Database, store: BlobStore, logger: Logger, options: SweepOptions): Promise<SweepResult> {
  const result: SweepResult = { files: 0, bytes: 0, failed: 0 };
  await removeLeftovers(store, logger, options, result);
  if (!store.capabilities.list || !store.list) return result;
  // Ids are built under the current settings; a row made under others would not be matched.
  const probeKey = "probe.chunk";
  const prefix = remoteFileId(store.refFor(probeKey)).slice(0, -probeKey.length);
  if (await db.gc.hasFilesOutside(prefix)) {
    logger.warn(
      { prefix },
      "storage sweep skipped: some chunks were stored under other storage settings (another backend, bucket or region), whose files the sweep could not tell from unreferenced ones",
    );
    return result;
  }
  const cutoff = options.olderThan.getTime();
  let batch: ListedBlob[] = [];
  const flush = async () => {
    const candidates = batch;
    batch = [];
    const ids = candidates.map((blob) => remoteFileId(store.refFor(blob.key)));
    const referenced = await db.gc.referencedFiles(ids);
    const orphans = candidates.filter((_, i) => !referenced.has(ids[i]!));
    await forEachConcurrent(orphans, options.concurrency, async (blob) => {
      try {
        await store.delete(store.refFor(blob.key), options.signal ? { signal: options.signal } : {});
        result.files += 1;
        result.bytes += blob.size;
      } catch (err) {
        if (options.signal?.aborted) throw err;
        result.failed += 1;
        logger.warn({ err, key: blob.key }, "could not delete an unreferenced storage file; retrying next run");
      }
    });
  };
  for await (const blob of store.list(options.signal ? { signal: options.signal } : {})) {
    if (!CHUNK_KEY.test(blob.key) || blob.lastModified.getTime() >= cutoff) continue;
    batch.push(blob);
    if (batch.length >= options.batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return result;
}

/**
 * Partial writes of a killed process (local temporary files) past the same grace period: no
 * row can refer to them, and no running write is that old. A failure is counted and retried
 * next run, like a failed deletion.
 */
async function removeLeftovers(store: BlobStore, logger: Logger, options: SweepOptions, result: SweepResult): Promise<void> {
  if (!store.removeLeftovers) return;
  try {
    const removed = await store.removeLeftovers(options.olderThan, options.signal ? { signal: options.signal } : {});
    result.files += removed.files;
    result.bytes += removed.bytes;
  } catch (err) {
    if (options.signal?.aborted) throw err;
    result.failed += 1;
    logger.warn({ err }, "could not remove the leftovers of unfinished storage writes; retrying next run");
  }
}
