import type { CompressionType } from "../database/model.ts";
import type { IoOptions } from "../storage/blob-store.ts";
import type { Allocate } from "../util/buffer-pool.ts";

export interface CompressOptions extends IoOptions {
  /** Codec level; undefined means Attic's default for that type (brotli 5, zstd 8, xz 2). */
  level?: number | undefined;
  /**
   * `compressBuffer` only: where to put the result, when given (the engine passes a
   * `BufferPool` and gives the array back once the chunk file is written). Implementations that
   * produce their result elsewhere may ignore it.
   */
  allocate?: Allocate | undefined;
}

/**
 * Compresses and decompresses byte streams in the formats a Nix client decodes. The output of
 * `compress` is one valid stream (or concatenation of frames) of that format, so concatenated
 * chunk files form a valid body for zstd and xz.
 */
export interface Compressor {
  /** The types this compressor can produce. */
  readonly types: readonly CompressionType[];
  compress(type: CompressionType, source: AsyncIterable<Uint8Array>, options?: CompressOptions): AsyncIterable<Uint8Array>;
  decompress(type: CompressionType, source: AsyncIterable<Uint8Array>, options?: IoOptions): AsyncIterable<Uint8Array>;
  /**
   * Optional: compresses bytes already in memory (a content-defined chunk) into the same format
   * `compress` produces. Implement it when that can skip per-stream machinery: the engine
   * compresses one chunk per 64 KiB on average, so stream setup per chunk was measurable.
   * Without it the engine streams the chunk through `compress`.
   */
  compressBuffer?(type: CompressionType, data: Uint8Array, options?: CompressOptions): Promise<Uint8Array>;
  /** Stops worker threads. */
  close?(): Promise<void>;
}

/** Attic's default levels (`CompressionConfig::level`). */
export const DEFAULT_COMPRESSION_LEVEL: Record<CompressionType, number | undefined> = {
  none: undefined,
  br: 5,
  zstd: 8,
  xz: 2,
};
