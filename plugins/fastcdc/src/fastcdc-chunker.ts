import { allocateFresh, ConfigError, type Allocate, type Chunker, type ChunkOptions, type ChunkSizes } from "@attic-ts/core";
import { cutParameters, findCutPoint } from "./fastcdc.ts";
import type { CutParameters } from "./fastcdc.ts";

/** A copy of `source[from..to)` in `allocate(to - from)`. */
function copyOut(source: Uint8Array, from: number, to: number, allocate: Allocate): Uint8Array {
  const out = allocate(to - from);
  out.set(source.subarray(from, to));
  return out;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** Attic's accepted ranges (fastcdc 4.0.1 `ronomon` MINIMUM_MIN … MAXIMUM_MAX), inclusive, in bytes. */
export const CHUNK_SIZE_LIMITS = {
  minSize: [64, 64 * MiB],
  avgSize: [256, 256 * MiB],
  maxSize: [KiB, 1024 * MiB],
} as const satisfies Record<keyof ChunkSizes, readonly [number, number]>;

const CONFIG_KEYS: Record<keyof ChunkSizes, string> = {
  minSize: "min-size",
  avgSize: "avg-size",
  maxSize: "max-size",
};

/** Throws a `ConfigError` naming the `[chunking]` key when `sizes` is outside Attic's ranges. */
export function validateChunkSizes(sizes: ChunkSizes): void {
  for (const key of Object.keys(CHUNK_SIZE_LIMITS) as (keyof ChunkSizes)[]) {
    const [low, high] = CHUNK_SIZE_LIMITS[key];
    const value = sizes[key];
    if (!Number.isSafeInteger(value) || value < low || value > high) {
      throw new ConfigError(`chunking.${CONFIG_KEYS[key]} must be an integer from ${low} to ${high} bytes, got ${value}`);
    }
  }
  if (sizes.minSize > sizes.avgSize || sizes.avgSize > sizes.maxSize) {
    throw new ConfigError(
      `chunking sizes must satisfy min-size <= avg-size <= max-size, got ${sizes.minSize} / ${sizes.avgSize} / ${sizes.maxSize}`,
    );
  }
}

/**
 * Attic's content-defined chunker: FastCDC, ronomon variant, cut-point exact with Attic
 * (fastcdc crate 4.0.1), however the source is sliced.
 *
 * Memory: one working buffer of `2 × maxSize` bytes, plus the chunk being yielded. Each chunk is
 * a copy of exactly its bytes, in a fresh buffer or in `options.allocate`'s, so the caller may
 * keep or mutate it freely.
 */
export class FastCdcChunker implements Chunker {
  readonly sizes: ChunkSizes;
  readonly #params: CutParameters;

  /** @param sizes - min/avg/max chunk sizes in bytes; throws `ConfigError` outside Attic's ranges. */
  constructor(sizes: ChunkSizes) {
    validateChunkSizes(sizes);
    this.sizes = { minSize: sizes.minSize, avgSize: sizes.avgSize, maxSize: sizes.maxSize };
    this.#params = cutParameters(this.sizes);
  }

  /**
   * Yields the chunks of `source` in order. The signal is checked before each source slice and
   * each chunk; when aborted, iteration throws the signal's reason (and the source iterator is
   * closed). A source blocked on I/O must honour the same signal itself.
   */
  async *chunk(source: AsyncIterable<Uint8Array>, options: ChunkOptions = {}): AsyncGenerator<Uint8Array> {
    const { signal } = options;
    const allocate = options.allocate ?? allocateFresh;
    signal?.throwIfAborted();
    const params = this.#params;
    const maxSize = params.maxSize;
    // The cut rule only decides once `maxSize` bytes are buffered (or at EOF). The buffer holds
    // two windows, so the unconsumed tail (< maxSize) is moved down at most once per `maxSize`
    // bytes read. Chunks are copied out (`slice`); yielding views of fresh working buffers
    // instead was measured no faster (fresh large buffers cost page faults) and would let a
    // small kept chunk pin a whole buffer.
    let buf: Uint8Array | undefined;
    let start = 0;
    let end = 0;
    for await (const slice of source) {
      signal?.throwIfAborted();
      let offset = 0;
      // Nothing buffered: cut straight out of the source slice while it holds a full window,
      // which saves copying every byte into the working buffer first (large slices are the
      // common case: 64 KiB socket reads, 1 MiB blocks).
      if (start === end) {
        start = end = 0;
        while (slice.length - offset >= maxSize) {
          const length = findCutPoint(slice, offset, slice.length, false, params);
          if (length <= 0) throw new Error(`FastCDC made no progress on a full ${maxSize}-byte window`);
          yield copyOut(slice, offset, offset + length, allocate);
          signal?.throwIfAborted();
          offset += length;
        }
      }
      while (offset < slice.length) {
        buf ??= new Uint8Array(2 * maxSize);
        if (end === buf.length) {
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const take = Math.min(buf.length - end, slice.length - offset);
        buf.set(take === slice.length ? slice : slice.subarray(offset, offset + take), end);
        end += take;
        offset += take;
        while (end - start >= maxSize) {
          // A full window always cuts (at the latest at maxSize); guard anyway, since a 0 here
          // would spin forever yielding empty chunks.
          const length = findCutPoint(buf, start, end, false, params);
          if (length <= 0) throw new Error(`FastCDC made no progress on a full ${maxSize}-byte window`);
          yield copyOut(buf, start, start + length, allocate);
          signal?.throwIfAborted();
          start += length;
        }
      }
    }
    while (buf !== undefined && start < end) {
      const length = findCutPoint(buf, start, end, true, params);
      yield copyOut(buf, start, start + length, allocate);
      signal?.throwIfAborted();
      start += length;
    }
  }
}
