import { opendir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { LeftoverResult } from "@attic-ts/core";
import { errnoOf, failsAs, storageError } from "./storage-errors.ts";

export interface TempSweep {
  /** Which names in the directory are temporary files. */
  isTemp: (name: string) => boolean;
  /** Files modified at or after this time (ms since the epoch) are kept. */
  cutoff: number;
  /** Files being written now, kept whatever their age. */
  isWriting: (path: string) => boolean;
  /** Counts of what was removed, added to. */
  removed: LeftoverResult;
  signal?: AbortSignal;
}

/**
 * Deletes the temporary files of `dir` (writes a killed process never finished) that the sweep
 * selects: a missing directory has none. Another process's running write keeps its file young,
 * so the age cutoff spares it.
 */
export async function removeTempFilesIn(dir: string, sweep: TempSweep): Promise<void> {
  let entries;
  try {
    entries = await opendir(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return;
    throw storageError("read", dir, err);
  }
  for await (const entry of entries) {
    sweep.signal?.throwIfAborted();
    if (!sweep.isTemp(entry.name)) continue;
    const path = join(dir, entry.name);
    if (sweep.isWriting(path)) continue;
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || info.mtimeMs >= sweep.cutoff) continue;
    await failsAs(rm(path, { force: true, recursive: true }), "delete", path);
    sweep.removed.files += 1;
    sweep.removed.bytes += info.isFile() ? info.size : 0;
  }
}
