import type { Readable } from "node:stream";
import type { RemoteFile } from "./remote-file.ts";

export interface IoOptions {
  /** Cancels the operation; the implementation cleans up anything it started. */
  signal?: AbortSignal;
}

export interface PutOptions extends IoOptions {
  /**
   * The caller makes the file durable itself, with `syncWrites`, before anything relies on it
   * surviving a crash (the engine marks a chunk row valid only after that). A backend with
   * `syncWrites` may then resolve once the file is visible, before it is durable; a backend
   * without it ignores this. Visibility and "nothing left on failure" are as without it.
   */
  deferSync?: boolean;
}

export interface BlobStoreCapabilities {
  /** `open(ref, { preferStream: false })` may answer with a URL the client fetches itself. */
  presignedUrls: boolean;
  /** `list()` is implemented (used by the GC sweep for files that no row references). */
  list: boolean;
}

/** What `open` returns: the bytes, or a URL that serves them (S3 presigned GET). */
export type Download =
  | { kind: "stream"; stream: Readable }
  | { kind: "url"; url: string };

export interface OpenOptions extends IoOptions {
  /**
   * True when the caller needs the bytes (multi-chunk reassembly). False lets a backend with
   * `presignedUrls` answer with a redirect URL instead.
   */
  preferStream?: boolean;
  /**
   * The stored file's size in bytes as recorded when it was written (a chunk row's
   * `fileSize`), when the caller knows it. A backend may use it to read a small file in one
   * step instead of streaming it; one that does must fail the read (a `StorageError`, never a
   * clean end) when the file turns out shorter or longer. Backends may ignore it.
   */
  expectedSize?: number;
}

/** A stored file and the size recorded when it was written (a chunk row's `fileSize`). */
export interface SizedFile {
  ref: RemoteFile;
  /** Bytes. */
  size: number;
}

export interface ReadManyOptions extends IoOptions {
  /**
   * Where the caller would like the bytes: room for at least the sizes summed. A backend may
   * read into it (the answer is then a view of its start) or answer other memory. Once the
   * call settles the backend no longer touches it, except after an abort, when a read still
   * running may finish into it. Reader threads can only fill shared memory, so pass a view of a
   * SharedArrayBuffer for it to be used by local-fs.
   */
  into?: Uint8Array;
}

/** What `removeLeftovers` removed. */
export interface LeftoverResult {
  files: number;
  /** Their sizes, summed (bytes). */
  bytes: number;
}

export interface ListedBlob {
  key: string;
  /** Size in bytes. */
  size: number;
  lastModified: Date;
}

/**
 * A storage backend for chunk files. Keys are `[0-9a-z-]+\.chunk`-like names chosen by the
 * engine; a backend decides its own layout (sharding, prefixes).
 */
export interface BlobStore {
  /** The config `type` this store was made from (`local`, `s3`, ...). */
  readonly type: string;
  readonly capabilities: BlobStoreCapabilities;

  /** The reference that `put(key)` records, without writing anything. */
  refFor(key: string): RemoteFile;

  /**
   * Writes the stream under `key` and resolves once it is durable and visible. Overwriting a
   * key is allowed. On failure or abort nothing is left visible under `key`, and no temporary
   * data remains.
   */
  put(key: string, body: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<RemoteFile>;

  /**
   * Optional: `put` of bytes already in memory, with the same guarantees. A backend implements
   * it when it can write a small file for less than a stream costs (local-fs: plain descriptors
   * instead of a body stream and a `FileHandle`); the engine writes its chunks this way. The
   * caller does not change `data` until the call settles.
   */
  putBytes?(key: string, data: Uint8Array, options?: PutOptions): Promise<RemoteFile>;

  /**
   * Optional, with `deferSync`: makes durable every write with `deferSync` that resolved before
   * this call, and resolves once they are. A backend implements it when one flush for many
   * files costs less than one per file (local-fs: one `syncfs` instead of two `fsync`s a chunk).
   * Calls may share a flush. A failure rejects with a `StorageError`: the files it covered may
   * not survive a crash. An abort stops the wait, not the flush.
   */
  syncWrites?(options?: IoOptions): Promise<void>;

  /**
   * Opens a stored file. Throws `BlobNotFoundError` (code `BlobNotFound`) when absent, and
   * `StorageError` when the backend fails: the two are never confused.
   */
  open(ref: RemoteFile, options?: OpenOptions): Promise<Download>;

  /**
   * Optional: reads several small stored files and answers their bytes concatenated in order.
   * A backend implements it when one call for many files costs less than an `open` each
   * (local-fs: one message to a reader thread instead of two thread-pool round trips per
   * file); NAR downloads then read their chunks a group at a time. The caller keeps the total
   * small (a download's read-ahead). Throws `BlobNotFoundError` when a file is absent, and
   * `StorageError` when one holds more or fewer bytes than its `size`, or the backend fails;
   * an abort rejects with the signal's reason.
   */
  readMany?(files: readonly SizedFile[], options?: ReadManyOptions): Promise<Uint8Array>;

  /** Deletes a file. Deleting a missing file succeeds (idempotent). */
  delete(ref: RemoteFile, options?: IoOptions): Promise<void>;

  /** Every stored file under this backend's current location (only with `capabilities.list`). */
  list?(options?: IoOptions): AsyncIterable<ListedBlob>;

  /**
   * Removes this backend's own leftovers of writes that never finished (a process killed in
   * the middle of `put`: local temporary files; a backend could abort stale multipart uploads)
   * that are older than `olderThan`. Never touches a stored key. Garbage collection calls it
   * with its orphan-file grace period; a write still running is younger than that.
   */
  removeLeftovers?(olderThan: Date, options?: IoOptions): Promise<LeftoverResult>;
  /** Releases connections and handles. */
  close?(): Promise<void>;
}
