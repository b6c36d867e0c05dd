import { mkdir, open, opendir, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { addAbortSignal } from "node:stream";
import { join, resolve } from "node:path";
import { writeStream } from "./file-io.ts";
import { writeAllFd } from "./fd-calls.ts";
import { bufferStream, SizeMismatch } from "./whole-read.ts";
import { ReaderThreads } from "./reader-threads.ts";
import { AtomicWriter } from "./atomic-writer.ts";
import { removeTempFilesIn } from "./leftovers.ts";
import { CoalescedFlush } from "./coalesced-flush.ts";
import { FilesystemSync, flushIntervalMs } from "./filesystem-sync.ts";
import { isTempName, keyProblem, LAYOUT_VERSION, migrateFromFlat, pathFor, readLayoutVersion, shardDirectories, TEMP_DIR } from "./layout.ts";
import { errnoOf, failsAs, storageError } from "./storage-errors.ts";
import { abortable, BlobNotFoundError, StorageError, untilAborted } from "@attic-ts/core";
import type { BlobStore, BlobStoreCapabilities, Download, IoOptions, LeftoverResult, ListedBlob, OpenOptions, PutOptions, ReadManyOptions, RemoteFile, SizedFile } from "@attic-ts/core";

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

/**
 * How writes with `deferSync` are made durable: `filesystem` flushes the whole filesystem once
 * for many files (`filesystem-sync.ts`), where it works; `file` fsyncs each file and its
 * directory as it is written, as writes without `deferSync` always are.
 */
export type LocalSyncMode = "filesystem" | "file";

export interface LocalBlobStoreOptions {
  /** Threads that read files of a known size whole (default 2); see `reader-threads.ts`. */
  readerThreads?: number;
  /**
   * Default `file`. `filesystem` pays where a flush is slow next to the CPU a chunk costs
   * (disks and network block storage with slow cache flushes); `init` turns it into `file` when
   * a flush fails there (`sync -f` missing or refused). See docs/differences-from-attic.md.
   */
  sync?: LocalSyncMode;
  /** The `sync` program for `filesystem` (default `sync` on PATH); tests substitute others. */
  syncCommand?: string;
}

/**
 * Blobs as files in a local directory, in Attic's sharded layout (`layout.ts`), so an existing
 * Attic storage directory is used as is. Writes are atomic (`atomic-writer.ts`); call `init()` first.
 */
export class LocalBlobStore implements BlobStore {
  readonly type = "local";
  readonly capabilities: BlobStoreCapabilities = { presignedUrls: false, list: true };
  /** Absolute storage directory. */
  readonly root: string;

  /** Where files read whole are read (see `reader-threads.ts`). */
  readonly #readers: ReaderThreads;
  readonly #writer = new AtomicWriter();
  readonly #wantedSync: LocalSyncMode;
  readonly #syncCommand: string | undefined;
  /** Set by `init` when filesystem flushes work here; until then every write is fsynced. */
  #filesystem: FilesystemSync | undefined;
  #flushes: CoalescedFlush | undefined;

  constructor(path: string, options: LocalBlobStoreOptions = {}) {
    this.root = resolve(path);
    this.#readers = new ReaderThreads({ threads: options.readerThreads ?? DEFAULT_READER_THREADS });
    this.#wantedSync = options.sync ?? "file";
    this.#syncCommand = options.syncCommand;
  }

  /** How writes with `deferSync` are made durable, as decided by `init`. */
  get syncMode(): LocalSyncMode {
    return this.#flushes ? "filesystem" : "file";
  }

  /** Creates the directory, migrates a layout-0 (flat) directory to layout 1, clears stale temp files. */
  async init(): Promise<void> {
    await failsAs(mkdir(this.root, { recursive: true }), "create", this.root);
    const version = await readLayoutVersion(this.root);
    if (version === 0) await migrateFromFlat(this.root, (dir) => this.#writer.ensureDir(dir));
    else if (version !== LAYOUT_VERSION) {
      throw new StorageError(`Unsupported local storage layout version ${version} in ${this.root}.`);
    }
    // Only the temporary directory of earlier versions (and of the migration), files a day old:
    // another process sharing the directory may be writing. Leftovers beside the stored files
    // are found by `removeLeftovers`, which garbage collection runs: at start a walk of every
    // shard directory would delay serving on a large store.
    const sweep = { isTemp: () => true, cutoff: Date.now() - STALE_TEMP_MS, isWriting: () => false, removed: { files: 0, bytes: 0 } };
    await removeTempFilesIn(join(this.root, TEMP_DIR), sweep).catch(() => undefined);
    if (this.#wantedSync === "filesystem" && this.#filesystem === undefined) {
      const filesystem = new FilesystemSync(this.root, this.#syncCommand);
      if (await filesystem.probe()) {
        this.#filesystem = filesystem;
        this.#flushes = new CoalescedFlush(() => failsAs(filesystem.flush(), "flush to disk", this.root), flushIntervalMs());
      }
    }
  }

  refFor(key: string): RemoteFile {
    const problem = keyProblem(key);
    // A plain Error: keys come from the engine, so a bad one is a bug, not a client error.
    if (problem) throw new Error(`Invalid local storage key ${JSON.stringify(key)}: ${problem}.`);
    return { Local: { name: key } };
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<RemoteFile> {
    const { signal } = options;
    const ref = this.refFor(key);
    await this.#writer.write(
      pathFor(this.root, key),
      signal,
      async (fd, temp) => {
        await writeStream(fd, abortable(body, signal), WRITES_IN_FLIGHT, (err) => storageError("write", temp, err));
      },
      !this.#defers(options),
    );
    return ref;
  }

  /**
   * `put` of bytes held in memory (the engine's chunks): the same steps and guarantees, without
   * a body stream.
   */
  async putBytes(key: string, data: Uint8Array, options: PutOptions = {}): Promise<RemoteFile> {
    const ref = this.refFor(key);
    const write = (fd: number, temp: string): Promise<void> => failsAs(writeAllFd(fd, data), "write", temp);
    await this.#writer.write(pathFor(this.root, key), options.signal, write, !this.#defers(options));
    return ref;
  }

  /**
   * Makes the writes with `deferSync` that resolved before this call durable: one flush of the
   * filesystem, shared by the calls made while the previous one ran. With `file` sync there is
   * nothing to do (every write was fsynced).
   */
  async syncWrites(options: IoOptions = {}): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.#flushes === undefined) return;
    // On abort the flush goes on for the other callers; this one stops waiting.
    await untilAborted(this.#flushes.request(), signal);
  }

  /** Whether a write with these options skips its fsyncs, left to `syncWrites`. */
  #defers(options: PutOptions): boolean {
    return options.deferSync === true && this.#flushes !== undefined;
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
    const path = pathFor(this.root, key);
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
      return { key, path: pathFor(this.root, key), size };
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
    const path = pathFor(this.root, key);
    try {
      await unlink(path);
    } catch (err) {
      if (errnoOf(err) !== "ENOENT") throw storageError("delete", path, err);
    }
  }

  /** Stops the reader threads and the sync helper; reads and flushes still running fail. */
  async close(): Promise<void> {
    this.#filesystem?.close();
    await this.#readers.close();
  }

  /** Walks the shard directories; `VERSION`, the temp directory and misplaced files are skipped. */
  async *list(options: IoOptions = {}): AsyncIterable<ListedBlob> {
    const { signal } = options;
    for await (const { dir, prefix } of shardDirectories(this.root)) {
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

  /**
   * Deletes temporary files (writes a killed process never finished) last modified before
   * `olderThan`, except those this process is writing: the dot-named `*.part` files in the shard
   * directories, and anything in the temporary directory of earlier versions. Another process's
   * running `put` writes its temporary file continuously, so it stays young.
   */
  async removeLeftovers(olderThan: Date, options: IoOptions = {}): Promise<LeftoverResult> {
    const removed: LeftoverResult = { files: 0, bytes: 0 };
    const common = { cutoff: olderThan.getTime(), isWriting: (path: string) => this.#writer.isWriting(path), removed, signal: options.signal };
    await removeTempFilesIn(join(this.root, TEMP_DIR), { ...common, isTemp: () => true });
    for await (const { dir } of shardDirectories(this.root)) await removeTempFilesIn(dir, { ...common, isTemp: isTempName });
    return removed;
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
}
