import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Compressor } from "../compression/compressor.ts";
import type { EngineConfig } from "../config/engine-config.ts";
import type { CompressionType, NewChunk } from "../database/model.ts";
import { inject, injectable } from "../di/index.ts";
import { BLOB_STORE, CLOCK, COMPRESSOR, ENGINE_CONFIG } from "../di/tokens.ts";
import { RequestError } from "../errors.ts";
import { HashingStream } from "../nix/hashing-stream.ts";
import { toTypedBase16 } from "../nix/hash.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { remoteFileId, remoteFileKey } from "../storage/remote-file.ts";
import type { UploadSession } from "./upload-session.ts";

/** The config's compression name as stored in the database and narinfo. */
export function storedCompression(config: EngineConfig): CompressionType {
  const type = config.compression.type;
  return type === "brotli" ? "br" : type;
}

/** A new chunk row, to be inserted pending, whose file gets a fresh random key in `store`. */
export function newChunkRow(store: BlobStore, chunkHash: string, chunkSize: number, compression: CompressionType, clock: Clock): NewChunk {
  const ref = store.refFor(`${randomUUID()}.chunk`);
  return { chunkHash, chunkSize, compression, remoteFile: ref, remoteFileId: remoteFileId(ref), createdAt: clock.now() };
}

export interface ChunkClaim {
  /** `sha256:<hex>` of the uncompressed bytes. */
  chunkHash: string;
  chunkSize: number;
  /**
   * True when the server computed the hash itself (chunked uploads); false when it comes from
   * the client (a whole NAR stored as one chunk) and must be checked against the bytes.
   */
  trusted: boolean;
  /** Message of the RequestError raised when untrusted bytes do not match the claim. */
  mismatchMessage: string;
}

export interface WrittenChunk {
  id: number;
  deduplicated: boolean;
  /** Stored (compressed) bytes; for a deduplicated chunk, those of the existing file. */
  fileSize: number;
}

async function drain(source: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of source);
}

/**
 * Attic's `upload_chunk`: reuse a valid chunk with the same hash and compression, or compress
 * and store a new one. The row is inserted (pending) before the file is written, so a crash
 * leaves a row that points at whatever was written, never an unreferenced file; the upload's
 * commit marks it valid.
 */
@injectable()
export class ChunkWriter {
  readonly compression: CompressionType;

  constructor(
    @inject(BLOB_STORE) private readonly store: BlobStore,
    @inject(COMPRESSOR) private readonly compressor: Compressor,
    @inject(ENGINE_CONFIG) private readonly config: EngineConfig,
    @inject(CLOCK) private readonly clock: Clock,
  ) {
    this.compression = storedCompression(config);
  }

  async write(
    session: UploadSession,
    data: AsyncIterable<Uint8Array>,
    claim: ChunkClaim,
    signal?: AbortSignal,
  ): Promise<WrittenChunk> {
    const { found, rows, ids } = await session.claimChunks([claim.chunkHash], this.compression, (missing) =>
      missing.map((chunkHash) => newChunkRow(this.store, chunkHash, claim.chunkSize, this.compression, this.clock)),
    );
    const existing = found.get(claim.chunkHash);
    if (existing) {
      if (!claim.trusted && this.config["require-proof-of-possession"]) {
        const hashing = new HashingStream(data, { signal });
        await drain(hashing);
        const hash = toTypedBase16(hashing.digest());
        if (hash !== claim.chunkHash || hashing.size !== claim.chunkSize || hashing.size !== existing.chunkSize) {
          throw new RequestError(claim.mismatchMessage);
        }
      }
      return { id: existing.id, deduplicated: true, fileSize: existing.fileSize ?? 0 };
    }
    const id = ids[0]!;
    const key = remoteFileKey(rows[0]!.remoteFile);

    const plain = new HashingStream(data, { signal });
    // Uncompressed, the stored file is the chunk itself: one SHA-256 pass serves for both
    // hashes, instead of a pass-through compressor and a second hash (a third of the CPU of an
    // uncompressed whole-NAR upload).
    const file =
      this.compression === "none"
        ? plain
        : new HashingStream(this.compressor.compress(this.compression, plain, { level: this.config.compression.level, signal }), { signal });
    await this.store.put(key, file, { signal });
    if (!claim.trusted) {
      if (toTypedBase16(plain.digest()) !== claim.chunkHash || plain.size !== claim.chunkSize) {
        throw new RequestError(claim.mismatchMessage);
      }
    }
    // Marked valid by the upload's commit, in its transaction.
    session.chunkStored({ id, fileHash: toTypedBase16(file.digest()), fileSize: file.size });
    return { id, deduplicated: false, fileSize: file.size };
  }
}
