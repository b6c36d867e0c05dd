import { randomUUID } from "node:crypto";
import { mkdir, open, opendir, readFile, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { addAbortSignal } from "node:stream";
import { dirname, join, resolve } from "node:path";
import { syncDirectory, writeStream } from "./file-io.ts";
import { closeFd, fsyncFd, openFd, renamePath, unlinkIfPresent, writeAllFd } from "./fd-calls.ts";
import { bufferStream, SizeMismatch } from "./whole-read.ts";
import { ReaderThreads } from "./reader-threads.ts";
import { abortable, BlobNotFoundError, StorageError } from "@attic-ts/core";
import type { BlobStore, BlobStoreCapabilities, Download, IoOptions, LeftoverResult, ListedBlob, OpenOptions, ReadManyOptions, RemoteFile, SizedFile } from "@attic-ts/core";

/** Attic's current local layout (PR #98): `{path}/{k[0]}/{k[0..2]}/{k}`. */
const LAYOUT_VERSION = 1;
const VERSION_FILE = "VERSION";
/**
 * Where earlier versions wrote every temporary file, and where the layout migration still
 * writes VERSION; a dot name can never be a shard directory (keys never start with ".").
 */
const TEMP_DIR = ".tmp";
/** The end of a temporary file's name; it is written beside its target as `.{uuid}.part`. */
const TEMP_SUFFIX = ".part";
/** A temporary file beside stored ones: a dot name (never a key) ending in `TEMP_SUFFIX`. */
const isTempName = (name: string): boolean => name.startsWith(".") && name.endsWith(TEMP_SUFFIX);
/** Writes of one file in flight at once (see `writeStream`). */
const WRITES_IN_FLIGHT = 4;
/** Files in `TEMP_DIR` older than this (ms) are leftovers of a crash and are removed by `init`. */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;
/**
 * Files of a known size up to this many bytes are read whole by `open` (one read into one
 * buffer); larger ones stream, so a whole-NAR chunk of GiBs never sits in memory. Chunks are
 * at most 256 KiB with Attic's defaults (plus compression overhead).
 */
export const WHOLE_READ_LIMIT = 1024 * 1024;
/**
 * Read size of a streamed (large) file, bytes: each read is a thread-pool round trip, so 4x
 * Node's 64 KiB default means 4x fewer of them for a whole-NAR chunk of GiBs; one buffer of
 * this size per open stream.
 */
const STREAM_READ_BYTES = 256 * 1024;

/** Reader threads at most: two keep reading while one waits on a disk that is not cached. */
const DEFAULT_READER_THREADS = 2;

export interface LocalBlobStoreOptions {
  /** Threads that read files of a known size whole (default 2); see `reader-threads.ts`. */
  readerThreads?: number;
}

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/**
 * Why `key` cannot be a file name here, or null. Keys are engine-generated (`{uuid}.chunk`);
 * besides path tricks this refuses non-ASCII, because Attic shards by the key's first *bytes*
 * and a JS string index is a UTF-16 unit, so the two layouts would disagree.
 */
function keyProblem(key: string): string | null {
  if (key.length < 2) return "it is shorter than 2 characters";
  if (!/^[\x21-\x7e]+$/.test(key)) return "it is not printable ASCII";
  if (key.includes("/") || key.includes("\\")) return "it contains a path separator";
  if (key.includes("..")) return 'it contains ".."';
  if (key.startsWith(".")) return 'it starts with "."';
  return null;
}

/**
 * Blobs as files in a local directory, in Attic's sharded layout, so an existing Attic storage
 * directory is used as is. Writes are atomic (temp file, fsync, rename); call `init()` first.
 */
export class LocalBlobStore implements BlobStore {
  readonly type = "local";
  readonly capabilities: BlobStoreCapabilities = { presignedUrls: false, list: true };
  /** Absolute storage directory. */
  readonly root: string;

  /** Where files read whole are read (see `reader-threads.ts`). */
  readonly #readers: ReaderThreads;

  constructor(path: string, options: LocalBlobStoreOptions = {}) {
    this.root = resolve(path);
    this.#readers = new ReaderThreads({ threads: options.readerThreads ?? DEFAULT_READER_THREADS });
  }

  /** Creates the directory, migrates a layout-0 (flat) directory to layout 1, clears stale temp files. */
  async init(): Promise<void> {
    await failsAs(mkdir(this.root, { recursive: true }), "create", this.root);
    const version = await this.#readVersion();
    if (version === 0) await this.#migrateFromFlat();
    else if (version !== LAYOUT_VERSION) {
      throw new StorageError(`Unsupported local storage layout version ${version} in ${this.root}.`);
    }
    await this.#removeStaleTempFiles();
  }

  refFor(key: string): RemoteFile {
    const problem = keyProblem(key);
    // A plain Error: keys come from the engine, so a bad one is a bug, not a client error.
    if (problem) throw new Error(`Invalid local storage key ${JSON.stringify(key)}: ${problem}.`);
    return { Local: { name: key } };
  }

  /**
   * Temporary files this process's `put`s are writing. `removeLeftovers` never takes them,
   * whatever its cutoff: a file stays unmodified while it is fsynced, so with a short grace
   * period (zero in tests) a collector could delete it just before its rename.
   */
  readonly #writing = new Set<string>();

  /** Directories this process created or found; nothing here ever deletes one. */
  readonly #knownDirs = new Set<string>();

  /** mkdir -p once per directory per process: two mkdir calls per chunk were measurable. */
  async #ensureDir(dir: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    await failsAs(mkdir(dir, { recursive: true }), "create", dir);
    this.#knownDirs.add(dir);
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, options: IoOptions = {}): Promise<RemoteFile> {
    const { signal } = options;
    return this.#atomically(key, signal, async (fd, temp) => {
      await writeStream(fd, abortable(body, signal), WRITES_IN_FLIGHT, (err) => storageError("write", temp, err));
    });
  }

  /**
   * `put` of bytes held in memory (the engine's chunks): the same steps and guarantees, without
   * a body stream.
   */
  async putBytes(key: string, data: Uint8Array, options: IoOptions = {}): Promise<RemoteFile> {
    return this.#atomically(key, options.signal, (fd, temp) => failsAs(writeAllFd(fd, data), "write", temp));
  }

  /**
   * The steps every write shares, on a plain descriptor (see `fd-calls.ts`): a new temporary file
   * is created, filled by `write`, made durable and closed, then renamed to the key's path, and
   * the rename made durable. On failure or abort the temporary file is removed and nothing is
   * visible under the key.
   */
  async #atomically(key: string, signal: AbortSignal | undefined, write: (fd: number, temp: string) => Promise<void>): Promise<RemoteFile> {
    const ref = this.refFor(key);
    signal?.throwIfAborted();
    const target = this.#pathFor(key);
    const dir = dirname(target);
    await this.#ensureDir(dir);
    // Beside the target, not in one directory shared by every write: creating a file and renaming
    // it lock its directory, and with a shared one every upload's files queued for that lock
    // (BENCHMARKS.md, seventeenth pass). A dot name is never a key, so `list` skips it.
    const temp = join(dir, `.${randomUUID()}${TEMP_SUFFIX}`);
    this.#writing.add(temp);
    try {
      const fd = await failsAs(openFd(temp, "wx"), "create", temp);
      try {
        await write(fd, temp);
        signal?.throwIfAborted();
        await failsAs(fsyncFd(fd), "fsync", temp);
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
    // put now would break "nothing visible on failure", and some platforms can't fsync a directory.
    await syncDirectory(dirname(target));
    return ref;
  }

  /**
   * With `expectedSize` up to `WHOLE_READ_LIMIT` the file is read whole before this resolves
   * (its stream then holds the bytes); otherwise it is streamed. Either way a file whose size
   * differs from `expectedSize` fails with a StorageError instead of serving other bytes.
   */
  async open(ref: RemoteFile, options: OpenOptions = {}): Promise<Download> {
    const key = this.#keyOf(ref);
    const { signal, expectedSize } = options;
    signal?.throwIfAborted();
    const path = this.#pathFor(key);
    if (expectedSize !== undefined && expectedSize <= WHOLE_READ_LIMIT) {
      if (!Number.isSafeInteger(expectedSize) || expectedSize < 0) throw new Error(`Invalid expected size ${expectedSize}.`);
      const data = await this.#readWhole([{ key, path, size: expectedSize }], signal);
      return { kind: "stream", stream: bufferStream(data) };
    }
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      if (errnoOf(err) === "ENOENT") throw new BlobNotFoundError(key, { cause: err });
      throw storageError("open", path, err);
    }
    // Opening the file once (not stat, then open) means a concurrent delete can't slip in between.
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new StorageError(`Local storage expected a file at ${path}.`);
      if (expectedSize !== undefined && info.size !== expectedSize) {
        throw storageError("read", path, new SizeMismatch(expectedSize, Math.min(info.size, expectedSize + 1)));
      }
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err instanceof StorageError ? err : storageError("stat", path, err);
    }
    const stream = handle.createReadStream({ highWaterMark: STREAM_READ_BYTES });
    if (signal) addAbortSignal(signal, stream);
    return { kind: "stream", stream };
  }

  /** Reads the files on a reader thread, in one message each way, into `into` when it is shared memory. */
  async readMany(files: readonly SizedFile[], options: ReadManyOptions = {}): Promise<Uint8Array> {
    const { signal, into } = options;
    signal?.throwIfAborted();
    const paths = files.map(({ ref, size }) => {
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`Invalid file size ${size}.`);
      const key = this.#keyOf(ref);
      return { key, path: this.#pathFor(key), size };
    });
    return this.#readWhole(paths, signal, into);
  }

  async #readWhole(files: ReadonlyArray<{ key: string; path: string; size: number }>, signal: AbortSignal | undefined, into?: Uint8Array): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await this.#readers.read(files, signal, into);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      // The file the reader names; a failure of the threads themselves names none.
      const file = files[(err as { index?: number }).index ?? 0];
      if (file !== undefined && errnoOf(err) === "ENOENT") throw new BlobNotFoundError(file.key, { cause: err });
      throw storageError("read", file?.path ?? this.root, err);
    }
    // Already in memory: the signal has nothing left to cancel but the handing over.
    signal?.throwIfAborted();
    return data;
  }

  /**
   * Removes the file; a missing one is fine. Shard directories stay: removing an empty one
   * races with a concurrent put that has just created it for its rename, and there are at most
   * a few thousand of them.
   */
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

  /** Stops the reader threads; reads still running fail. */
  async close(): Promise<void> {
    await this.#readers.close();
  }

  /** Walks the shard directories; `VERSION`, the temp directory and misplaced files are skipped. */
  async *list(options: IoOptions = {}): AsyncIterable<ListedBlob> {
    const { signal } = options;
    for await (const { dir, prefix } of this.#shardDirectories()) {
      const entries = await failsAs(opendir(dir), "read", dir);
      for await (const entry of entries) {
        signal?.throwIfAborted();
        // A file outside its shard would never be found by `refFor`, so it is not ours to list.
        if (!entry.isFile() || !entry.name.startsWith(prefix) || keyProblem(entry.name)) continue;
        const path = join(dir, entry.name);
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
  }

  /** The shard directories, `{k[0]}/{k[0..2]}`, with their two-character prefix. */
  async *#shardDirectories(): AsyncGenerator<{ dir: string; prefix: string }> {
    for (const first of await this.#subdirectories(this.root)) {
      if (first.length !== 1) continue;
      const firstDir = join(this.root, first);
      for (const second of await this.#subdirectories(firstDir)) {
        if (second.length === 2 && second[0] === first) yield { dir: join(firstDir, second), prefix: second };
      }
    }
  }

  #pathFor(key: string): string {
    return join(this.root, key.slice(0, 1), key.slice(0, 2), key);
  }

  /** The key of a stored reference; anything this backend cannot read is a storage failure. */
  #keyOf(ref: RemoteFile): string {
    if (!("Local" in ref)) {
      throw new StorageError(`Local storage does not understand the reference ${JSON.stringify(ref)}.`);
    }
    const key = ref.Local.name;
    const problem = keyProblem(key);
    if (problem) throw new StorageError(`Invalid local storage reference ${JSON.stringify(key)}: ${problem}.`);
    return key;
  }

  async #readVersion(): Promise<number> {
    const path = join(this.root, VERSION_FILE);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return 0;
      throw storageError("read", path, err);
    }
    const trimmed = text.trim();
    if (!/^\d+$/.test(trimmed)) throw new StorageError(`${path} does not contain a layout version: ${JSON.stringify(trimmed)}.`);
    return Number(trimmed);
  }

  /**
   * Layout 0 kept every file at the top level. Each one is renamed into its shard, then VERSION
   * is written last, so an interrupted migration simply continues on the next start.
   */
  async #migrateFromFlat(): Promise<void> {
    const entries = await failsAs(readdir(this.root, { withFileTypes: true }), "read", this.root);
    for (const entry of entries) {
      if (!entry.isFile() || entry.name === VERSION_FILE || keyProblem(entry.name)) continue;
      const target = this.#pathFor(entry.name);
      await this.#ensureDir(dirname(target));
      await failsAs(rename(join(this.root, entry.name), target), "move", join(this.root, entry.name));
    }
    const tempDir = join(this.root, TEMP_DIR);
    const temp = join(tempDir, `${VERSION_FILE}.${randomUUID()}`);
    await failsAs(mkdir(tempDir, { recursive: true }), "create", tempDir);
    await failsAs(writeFile(temp, String(LAYOUT_VERSION), { flush: true }), "write", temp);
    await failsAs(rename(temp, join(this.root, VERSION_FILE)), "write", join(this.root, VERSION_FILE));
    await syncDirectory(this.root);
  }

  /**
   * At start, the temporary directory earlier versions wrote to (and the layout migration still
   * does), files a day old only: another process sharing the directory may be writing. Leftovers
   * beside the stored files are found by `removeLeftovers`, which garbage collection runs: at
   * start a walk of every shard directory would delay serving on a large store.
   */
  async #removeStaleTempFiles(): Promise<void> {
    const removed: LeftoverResult = { files: 0, bytes: 0 };
    const cutoff = Date.now() - STALE_TEMP_MS;
    await this.#removeTempFilesIn(join(this.root, TEMP_DIR), () => true, cutoff, removed).catch(() => undefined);
  }

  /**
   * Deletes temporary files (writes a killed process never finished) last modified before
   * `olderThan`, except those this process is writing: the dot-named `*.part` files in the shard
   * directories, and anything in the temporary directory of earlier versions. Another process's
   * running `put` writes its temporary file continuously, so it stays young.
   */
  async removeLeftovers(olderThan: Date, options: IoOptions = {}): Promise<LeftoverResult> {
    const { signal } = options;
    const removed: LeftoverResult = { files: 0, bytes: 0 };
    const cutoff = olderThan.getTime();
    await this.#removeTempFilesIn(join(this.root, TEMP_DIR), () => true, cutoff, removed, signal);
    for await (const { dir } of this.#shardDirectories()) await this.#removeTempFilesIn(dir, isTempName, cutoff, removed, signal);
    return removed;
  }

  /** Deletes the files of `dir` whose names pass `isTemp`, modified before `cutoff`, and not being written here. */
  async #removeTempFilesIn(dir: string, isTemp: (name: string) => boolean, cutoff: number, removed: LeftoverResult, signal?: AbortSignal): Promise<void> {
    let entries;
    try {
      entries = await opendir(dir);
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return;
      throw storageError("read", dir, err);
    }
    for await (const entry of entries) {
      signal?.throwIfAborted();
      if (!isTemp(entry.name)) continue;
      const path = join(dir, entry.name);
      if (this.#writing.has(path)) continue;
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || info.mtimeMs >= cutoff) continue;
      await failsAs(rm(path, { force: true, recursive: true }), "delete", path);
      removed.files += 1;
      removed.bytes += info.isFile() ? info.size : 0;
    }
  }

  async #subdirectories(dir: string): Promise<string[]> {
    const entries = await failsAs(readdir(dir, { withFileTypes: true }), "read", dir);
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name);
  }
}

/** `step`, its failure reported as a StorageError that keeps the cause. */
function failsAs<T>(step: Promise<T>, action: string, path: string): Promise<T> {
  return step.catch((err: unknown) => {
    throw storageError(action, path, err);
  });
}

function storageError(action: string, path: string, cause: unknown): StorageError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError(`Local storage could not ${action} ${path}: ${detail}`, { cause });
}
