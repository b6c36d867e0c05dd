import { createHash } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Compressor } from "../compression/compressor.ts";
import type { EngineConfig } from "../config/engine-config.ts";
import type { CompressionType, NewChunk } from "../database/model.ts";
import { inject, injectable } from "../di/index.ts";
import { BLOB_STORE, CLOCK, COMPRESSOR, ENGINE_CONFIG } from "../di/tokens.ts";
import { HashingStream } from "../nix/hashing-stream.ts";
import { toTypedBase16 } from "../nix/hash.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { putBytes } from "../storage/put-bytes.ts";
import { remoteFileKey } from "../storage/remote-file.ts";
import { asyncOf } from "../util/async-of.ts";
import { BufferPool } from "../util/buffer-pool.ts";
import { newChunkRow, storedCompression, type WrittenChunk } from "./chunk-writer.ts";
import type { UploadSession } from "./upload-session.ts";

/**
 * Chunks already handled in this upload, by `sha256:<hex>`: a promise while the chunk is being
 * stored, then the plain result. Chunks in flight always stay (a repeat must wait for the one
 * write); of the settled ones only the newest SEEN_SETTLED_LIMIT are kept, so memory does not
 * grow with the NAR (a 2 GiB NAR has some 32,000 chunks). An older repeat is found in the
 * database instead, as a chunk of another upload would be.
 */
export type SeenChunks = Map<string, WrittenChunk | Promise<WrittenChunk>>;

/** Settled entries a `SeenChunks` map keeps (about 150 bytes each). */
export const SEEN_SETTLED_LIMIT = 4096;

/** Drops the oldest settled entries beyond `limit`; entries in flight are never dropped. */
export function evictSettled(seen: SeenChunks, limit = SEEN_SETTLED_LIMIT): void {
  if (seen.size <= limit) return;
  for (const [hash, entry] of seen) {
    if (seen.size <= limit) return;
    if (!(entry instanceof Promise)) seen.delete(hash);
  }
}

/**
 * The callback that settles a chunk's `seen` entry once it is valid. Made out here, not in
 * `writeBatch`: a closure there would share its scope, and so keep the batch's chunk buffers
 * alive until the next transaction.
 */
function settleWhenValid(seen: SeenChunks, hash: string, file: { id: number; fileSize: number }): () => void {
  return () => seen.set(hash, { id: file.id, deduplicated: false, fileSize: file.fileSize });
}

/**
 * Longest chunk or compressed chunk whose buffer is reused (Attic's template cuts at most
 * 256 KiB); longer ones, from a larger `max-size`, get a plain buffer each.
 */
const MAX_POOLED_CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * Chunk buffers kept for reuse between batches and uploads. One upload lends up to 6.5-7.5 MiB
 * at once (2 batches of at most 2 MiB in flight and the one being cut, each chunk once as cut
 * and once compressed, and the body slice), less as batches come and go. With a cap below
 * that, each batch given back dropped buffers the next one made again: with 4 MiB, a 2 GiB
 * upload dropped 1.3 GB of them, which lived long enough to be promoted and so stayed until a
 * full collection (ArrayBuffers at the peak: 31-34 MB, 20-22 since; BENCHMARKS.md, nineteenth
 * pass). 16 MiB covers two uploads; an idle server keeps what one upload used at most.
 */
const MAX_FREE_CHUNK_BYTES = 16 * 1024 * 1024;

function sha256Typed(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/**
 * Chunk-level dedup and storage for a batch of server-cut chunks (chunked uploads). A batch costs
 * one transaction (`UploadSession.claimChunks`: find-and-lock, insert, and marking the chunks
 * stored before it valid), instead of statements per chunk: with 64 KiB chunks the number of
 * transactions queued for the database's writer, not the bytes, bounded ingest speed.
 * Chunks repeated within one NAR are stored once (`seen` spans the whole upload).
 */
@injectable()
export class ChunkBatchWriter {
  readonly compression: CompressionType;
  /**
   * Buffers for the chunks of chunked uploads: the caller cuts chunks into `buffers.take` and
   * gives a batch's chunks back once `writeBatch` has resolved; compressed chunks are taken
   * and given back here.
   */
  readonly buffers = new BufferPool(MAX_POOLED_CHUNK_BYTES, MAX_FREE_CHUNK_BYTES);

  constructor(
    @inject(BLOB_STORE) private readonly store: BlobStore,
    @inject(COMPRESSOR) private readonly compressor: Compressor,
    @inject(ENGINE_CONFIG) private readonly config: EngineConfig,
    @inject(CLOCK) private readonly clock: Clock,
  ) {
    this.compression = storedCompression(config);
  }

  async writeBatch(
    session: UploadSession,
    chunks: readonly Uint8Array[],
    seen: SeenChunks,
    signal?: AbortSignal,
    seenLimit = SEEN_SETTLED_LIMIT,
  ): Promise<WrittenChunk[]> {
    const hashes = chunks.map(sha256Typed);
    // Entries taken now: another batch may evict a settled one before this batch ends.
    const known = new Map<string, WrittenChunk | Promise<WrittenChunk>>();
    for (const h of hashes) {
      const entry = seen.get(h);
      if (entry !== undefined) known.set(h, entry);
    }
    const fresh = [...new Set(hashes.filter((h) => !known.has(h)))];
    const firstIndex = new Map(fresh.map((h) => [h, hashes.indexOf(h)]));
    const { found, rows, ids } = await session.claimChunks(fresh, this.compression, (missing) =>
      missing.map((h) => newChunkRow(this.store, h, chunks[firstIndex.get(h)!]!.length, this.compression, this.clock)),
    );

    const stored = Promise.all(rows.map((row, i) => this.storeOne(row, ids[i]!, chunks[firstIndex.get(row.chunkHash)!]!, signal)));
    stored.catch(() => {}); // awaited below; the per-hash promises may be awaited by later batches first
    for (const [h, row] of found) {
      const entry = { id: row.id, deduplicated: true, fileSize: row.fileSize ?? 0 };
      seen.set(h, entry);
      known.set(h, entry);
    }
    rows.forEach((row, i) => {
      const one = stored.then((all) => all[i]!);
      one.catch(() => {}); // a later batch may never ask for it; the failure surfaces via `stored`
      seen.set(row.chunkHash, one);
      known.set(row.chunkHash, one);
    });

    const files = await stored;
    // One flush for the batch's files where the store can (see `storeOne`), shared with other
    // batches' by the store; not awaited here, so the next batch is not held up by the disk.
    const durable = files.length > 0 && this.store.syncWrites ? this.store.syncWrites(signal ? { signal } : {}) : undefined;
    // Marked valid with the upload's next claim or its commit, once durable. The entry stays a
    // (resolved) promise until then, and so is never evicted: an evicted entry is looked up in
    // the database, which would not find a chunk still pending.
    files.forEach((f, i) => session.chunkStored(f, settleWhenValid(seen, rows[i]!.chunkHash, f), durable));

    // A chunk counts as deduplicated unless this batch stored it (first occurrence).
    const storedHere = new Set(rows.map((row) => firstIndex.get(row.chunkHash)));
    const written = await Promise.all(
      hashes.map(async (h, i) => {
        const entry = await known.get(h)!;
        return storedHere.has(i) ? entry : { ...entry, deduplicated: true };
      }),
    );
    evictSettled(seen, seenLimit);
    return written;
  }

  private async storeOne(
    row: NewChunk,
    id: number,
    data: Uint8Array,
    signal?: AbortSignal,
  ): Promise<WrittenChunk & { fileHash: string }> {
    const options = signal ? { signal } : {};
    // Durable later, with the batch's `syncWrites` (its row is marked valid only after it).
    const putOptions = { ...options, deferSync: this.store.syncWrites !== undefined };
    if (this.compression === "none") {
      // The stored file is the chunk itself: its hash is already known.
      await putBytes(this.store, remoteFileKey(row.remoteFile), data, putOptions);
      return { id, deduplicated: false, fileSize: data.length, fileHash: row.chunkHash };
    }
    if (this.compressor.compressBuffer) {
      const file = await this.compressor.compressBuffer(this.compression, data, {
        level: this.config.compression.level,
        allocate: this.buffers.take,
        ...options,
      });
      await putBytes(this.store, remoteFileKey(row.remoteFile), file, putOptions);
      const written = { id, deduplicated: false, fileSize: file.byteLength, fileHash: sha256Typed(file) };
      // Written and hashed: nothing reads it any more (a failed put keeps it, for the collector).
      if (file !== data) this.buffers.give(file);
      return written;
    }
    const compressed = this.compressor.compress(this.compression, asyncOf(data), { level: this.config.compression.level, ...options });
    const file = new HashingStream(compressed, options);
    await this.store.put(remoteFileKey(row.remoteFile), file, putOptions);
    return { id, deduplicated: false, fileSize: file.size, fileHash: toTypedBase16(file.digest()) };
  }
}
