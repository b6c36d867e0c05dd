import type { IoOptions } from "../storage/blob-store.ts";

/** Content-defined chunk size parameters, in bytes (Attic's `[chunking]` table). */
export interface ChunkSizes {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

/**
 * Splits a byte stream into content-defined chunks. Deterministic: the cut points depend only
 * on the bytes, never on how the source happens to be sliced.
 */
export interface Chunker {
  /** The sizes it cuts with. */
  readonly sizes: ChunkSizes;
  /**
   * Yields the chunks in order. Each yielded array is owned by the caller (never reused by the
   * chunker). Memory held is bounded by `maxSize` plus one source slice.
   */
  chunk(source: AsyncIterable<Uint8Array>, options?: IoOptions): AsyncIterable<Uint8Array>;
}
