import { randomUUID } from "node:crypto";
import { mkdir, open, opendir, rename, rm, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import { addAbortSignal } from "node:stream";
import { abortable, BlobNotFoundError, StorageError } from "@attic-ts/core";
import type { BlobStore, BlobStoreCapabilities, Download, IoOptions, LeftoverResult, ListedBlob, OpenOptions, RemoteFile } from "@attic-ts/core";

/** Temporary files start with this, so they never collide with a key (keys never start with "."). */
const TEMP_PREFIX = ".part-";
/** A temporary file older than this (ms) is a crash leftover and is removed by `init`. */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** Why `key` cannot be a file name in the directory, or null when it can. */
function keyProblem(key: string): string | null {
  if (key.length === 0) return "it is empty";
  if (!/^[\x21-\x7e]+$/.test(key)) return "it is not printable ASCII";
  if (key.includes("/") || key.includes("\\")) return "it contains a path separator";
  if (key.startsWith(".")) return 'it starts with "."';
  return null;
}

/**
 * Every blob as one file directly in `root`: no sharding, which suits small caches and makes
 * the directory easy to inspect. A write goes to a dot-named temporary file in the same
 * directory (same filesystem, so the final rename is atomic), is fsynced, then renamed over
 * the key. Call `init()` before use.
 *
 * References are `{ Local: { name } }`, the only RemoteFile variant for a file name: the
 * engine stores them in `chunk.remote_file` and hands them back to `open` and `delete`.
 */
export class FlatDirBlobStore implements BlobStore {
  readonly type = "flat-dir";
  readonly capabilities: BlobStoreCapabilities = { presignedUrls: false, list: true };
  /** Absolute path of the blob directory. */
  readonly root: string;

  constructor(path: string) {
    this.root = resolve(path);
  }

  /** Creates the directory and removes day-old temporary files a crashed process left behind. */
  async init(): Promise<void> {
    await this.#fs("create", this.root, () => mkdir(this.root, { recursive: true }));
    // Only old ones: another process sharing the directory may be writing right now.
    await this.removeLeftovers(new Date(Date.now() - STALE_TEMP_MS)).catch(() => undefined);
  }

  /**
   * Temporary files of writes that never finished, last modified before `olderThan`. The
   * garbage collector calls this every run with its orphan-file grace period.
   */
  async removeLeftovers(olderThan: Date, options: IoOptions = {}): Promise<LeftoverResult> {
    const removed: LeftoverResult = { files: 0, bytes: 0 };
    for await (const entry of await this.#fs("read", this.root, () => opendir(this.root))) {
      options.signal?.throwIfAborted();
      if (!entry.name.startsWith(TEMP_PREFIX)) continue;
      const path = join(this.root, entry.name);
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || info.mtimeMs >= olderThan.getTime()) continue;
      await this.#fs("delete", path, () => rm(path, { force: true }));
      removed.files += 1;
      removed.bytes += info.size;
    }
    return removed;
  }

  refFor(key: string): RemoteFile {
    const problem = keyProblem(key);
    // A plain Error: keys come from the engine, so a bad one is a programming error.
    if (problem) throw new Error(`Invalid flat-dir storage key ${JSON.stringify(key)}: ${problem}.`);
    return { Local: { name: key } };
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, options: IoOptions = {}): Promise<RemoteFile> {
    const ref = this.refFor(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const temp = join(this.root, `${TEMP_PREFIX}${randomUUID()}`);
    let handle: FileHandle | undefined;
    try {
      handle = await this.#fs("create", temp, () => open(temp, "wx"));
      const file = handle;
      // Errors of the body and the abort reason pass through unchanged; only our own I/O is wrapped.
      for await (const chunk of abortable(body, signal)) {
        await this.#fs("write", temp, () => writeAll(file, chunk));
      }
      signal?.throwIfAborted();
      await this.#fs("fsync", temp, () => file.sync());
      handle = undefined;
      await this.#fs("close", temp, () => file.close());
      signal?.throwIfAborted();
      await this.#fs("rename into", this.#pathFor(key), () => rename(temp, this.#pathFor(key)));
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
    // Makes the rename durable. Best effort: the blob is already visible, so failing now would
    // break the "nothing visible after a failed put" rule.
    await syncDirectory(this.root);
    return ref;
  }

  async open(ref: RemoteFile, options: OpenOptions = {}): Promise<Download> {
    const key = this.#keyOf(ref);
    options.signal?.throwIfAborted();
    const path = this.#pathFor(key);
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      // The one case that is "not found"; every other failure is the backend's.
      if (errnoOf(err) === "ENOENT") throw new BlobNotFoundError(key, { cause: err });
      throw storageError("open", path, err);
    }
    const stream = handle.createReadStream();
    // Aborting destroys the stream (and closes the file) with the signal's reason.
    if (options.signal) addAbortSignal(options.signal, stream);
    return { kind: "stream", stream };
  }

  async delete(ref: RemoteFile, options: IoOptions = {}): Promise<void> {
    const key = this.#keyOf(ref);
    options.signal?.throwIfAborted();
    const path = this.#pathFor(key);
    try {
      await unlink(path);
    } catch (err) {
      if (errnoOf(err) !== "ENOENT") throw storageError("delete", path, err);
    }
  }

  /** Every blob in the directory; temporary files and anything that is not a key are skipped. */
  async *list(options: IoOptions = {}): AsyncIterable<ListedBlob> {
    const dir = await this.#fs("read", this.root, () => opendir(this.root));
    for await (const entry of dir) {
      options.signal?.throwIfAborted();
      if (!entry.isFile() || keyProblem(entry.name)) continue;
      const path = join(this.root, entry.name);
      let info;
      try {
        info = await stat(path);
      } catch (err) {
        if (errnoOf(err) === "ENOENT") continue; // deleted while listing
        throw storageError("stat", path, err);
      }
      yield { key: entry.name, size: info.size, lastModified: info.mtime };
    }
  }

  #pathFor(key: string): string {
    return join(this.root, key);
  }

  /** The key inside a reference; a reference this store cannot read is a storage failure, not "not found". */
  #keyOf(ref: RemoteFile): string {
    if (!("Local" in ref)) throw new StorageError(`flat-dir storage cannot read the reference ${JSON.stringify(ref)}.`);
    const key = ref.Local.name;
    const problem = keyProblem(key);
    if (problem) throw new StorageError(`Invalid flat-dir storage reference ${JSON.stringify(key)}: ${problem}.`);
    return key;
  }

  /** Runs one filesystem step, reporting its failure as a StorageError that keeps the cause. */
  async #fs<T>(action: string, path: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      throw storageError(action, path, err);
    }
  }
}

function storageError(action: string, path: string, cause: unknown): StorageError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError(`flat-dir storage could not ${action} ${path}: ${detail}`, { cause });
}

/** `FileHandle.write` may write less than asked; loop until the whole chunk is on disk. */
async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength; ) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r").catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}
