import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { syncDirectory } from "./file-io.ts";
import { closeFd, fsyncFd, openFd, renamePath, unlinkIfPresent } from "./fd-calls.ts";
import { TEMP_SUFFIX } from "./layout.ts";
import { failsAs } from "./storage-errors.ts";

/**
 * Writes files atomically: a new temporary file beside the target is created, filled, made
 * durable and closed, then renamed to the target, and the rename made durable (both unless the
 * caller flushes them itself). On failure or abort the temporary file is removed and nothing is
 * visible at the target. Works on plain descriptors (see `fd-calls.ts`).
 */
export class AtomicWriter {
  /**
   * Temporary files being written now. A leftover sweep must never take them, whatever its
   * cutoff: a file stays unmodified while it is fsynced, so with a short grace period (zero in
   * tests) a collector could delete it just before its rename.
   */
  readonly #writing = new Set<string>();

  /** Directories this writer created or found; nothing in this package ever deletes one. */
  readonly #knownDirs = new Set<string>();

  /** Whether `path` is a temporary file this writer is filling. */
  isWriting(path: string): boolean {
    return this.#writing.has(path);
  }

  /** mkdir -p once per directory per process: two mkdir calls per chunk were measurable. */
  async ensureDir(dir: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    await failsAs(mkdir(dir, { recursive: true }), "create", dir);
    this.#knownDirs.add(dir);
  }

  /**
   * Writes `target` through `write`, which fills the open temporary file `fd` (named `temp` in
   * errors). With `durable` false the file and the rename are not fsynced: the caller flushes
   * them later (the store's `syncWrites`).
   */
  async write(target: string, signal: AbortSignal | undefined, write: (fd: number, temp: string) => Promise<void>, durable = true): Promise<void> {
    signal?.throwIfAborted();
    const dir = dirname(target);
    await this.ensureDir(dir);
    // Beside the target, not in one directory shared by every write: creating a file and renaming
    // it lock its directory, and with a shared one every upload's files queued for that lock
    // (BENCHMARKS.md, seventeenth pass). A dot name is never a key, so listing skips it.
    const temp = join(dir, `.${randomUUID()}${TEMP_SUFFIX}`);
    this.#writing.add(temp);
    try {
      const fd = await failsAs(openFd(temp, "wx"), "create", temp);
      try {
        await write(fd, temp);
        signal?.throwIfAborted();
        if (durable) await failsAs(fsyncFd(fd), "fsync", temp);
      } catch (err) {
        await closeFd(fd).catch(() => undefined);
        throw err;
      }
      await failsAs(closeFd(fd), "close", temp);
      signal?.throwIfAborted();
      await failsAs(renamePath(temp, target), "rename into", target);
    } catch (err) {
      await unlinkIfPresent(temp).catch(() => undefined);
      throw err;
    } finally {
      this.#writing.delete(temp);
    }
    // Makes the rename itself durable. Best effort: the file is already visible, so failing the
    // write now would break "nothing visible on failure", and some platforms can't fsync a directory.
    if (durable) await syncDirectory(dir);
  }
}
