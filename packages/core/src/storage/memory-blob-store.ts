import { Readable, addAbortSignal } from "node:stream";
import { BlobNotFoundError, StorageError } from "../errors.ts";
import type { BlobStore, BlobStoreCapabilities, Download, IoOptions, LeftoverResult, ListedBlob, OpenOptions } from "./blob-store.ts";
import type { RemoteFile } from "./remote-file.ts";

interface StoredBlob {
  /** The body as written, slice by slice (copied), so `open` can stream it back lazily. */
  parts: readonly Uint8Array[];
  /** Total size in bytes. */
  size: number;
  lastModified: Date;
}

/**
 * The reference BlobStore: keeps every blob in process memory. Refs are `{ Local: { name } }`
 * like the local backend, so rows written against it look like Attic's. Meant for tests and
 * embedding experiments; it holds whole blobs in memory by design.
 */
export class MemoryBlobStore implements BlobStore {
  readonly type = "memory";
  readonly capabilities: BlobStoreCapabilities = { presignedUrls: false, list: true };
  readonly #blobs = new Map<string, StoredBlob>();

  refFor(key: string): RemoteFile {
    return { Local: { name: key } };
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, options: IoOptions = {}): Promise<RemoteFile> {
    const { signal } = options;
    signal?.throwIfAborted();
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      signal?.throwIfAborted();
      // Copy: callers may reuse their buffers once the iterator moves on.
      parts.push(new Uint8Array(chunk));
      size += chunk.byteLength;
    }
    signal?.throwIfAborted();
    // Only a fully received body becomes visible, which is the "nothing left on failure" rule.
    this.#blobs.set(key, { parts, size, lastModified: new Date() });
    return this.refFor(key);
  }

  async putBytes(key: string, data: Uint8Array, options: IoOptions = {}): Promise<RemoteFile> {
    options.signal?.throwIfAborted();
    // Copied, like `put`'s slices: the caller reuses its buffer once this settles.
    this.#blobs.set(key, { parts: [new Uint8Array(data)], size: data.byteLength, lastModified: new Date() });
    return this.refFor(key);
  }

  async open(ref: RemoteFile, options: OpenOptions = {}): Promise<Download> {
    const key = this.#keyOf(ref);
    options.signal?.throwIfAborted();
    const blob = this.#blobs.get(key);
    if (!blob) throw new BlobNotFoundError(key);
    // Byte mode (not object mode), so consumers see an ordinary binary stream.
    const stream = Readable.from(blob.parts, { objectMode: false });
    if (options.signal) addAbortSignal(options.signal, stream);
    return { kind: "stream", stream };
  }

  async delete(ref: RemoteFile, options: IoOptions = {}): Promise<void> {
    const key = this.#keyOf(ref);
    options.signal?.throwIfAborted();
    this.#blobs.delete(key);
  }

  async *list(options: IoOptions = {}): AsyncIterable<ListedBlob> {
    // Snapshot, so puts and deletes during iteration don't disturb it.
    for (const [key, blob] of [...this.#blobs]) {
      options.signal?.throwIfAborted();
      yield { key, size: blob.size, lastModified: blob.lastModified };
    }
  }

  /** A put that never finished kept its bytes in its own call only: nothing is ever left over. */
  async removeLeftovers(_olderThan: Date, options: IoOptions = {}): Promise<LeftoverResult> {
    options.signal?.throwIfAborted();
    return { files: 0, bytes: 0 };
  }

  /** A reference of another backend is a storage failure, never "not found". */
  #keyOf(ref: RemoteFile): string {
    if ("Local" in ref) return ref.Local.name;
    throw new StorageError(`The memory store cannot handle the reference ${JSON.stringify(ref)}.`);
  }
}
