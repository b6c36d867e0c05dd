import type { IoOptions } from "../storage/blob-store.ts";
import type { Allocate } from "../util/buffer-pool.ts";

/** Content-defined chunk size parameters, in bytes (Attic's `[chunking]` table). */
export interface ChunkSizes {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

export interface ChunkOptions extends IoOptions {
  /**
   * Where to copy each chunk's bytes, when given: a chunker that copies chunks out of a working
   * buffer copies into `allocate(length)`. The engine passes a `BufferPool` and gives each chunk
   * back once it is stored; chunkers that yield other arrays may ignore it.
   */
  allocate?: Allocate | undefined;
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
   *
   * A source slice is lent: it is valid only until the chunker pulls the next one (or finishes),
   * after which the engine reuses its memory. Copy what must outlive it (the working window,
   * the chunks); never yield a view of a source slice.
   */
  chunk(source: AsyncIterable<Uint8Array>, options?: ChunkOptions): AsyncIterable<Uint8Array>;
}
