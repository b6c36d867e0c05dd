import type { BufferPool } from "./buffer-pool.ts";

/**
 * `source`'s slices copied into buffers lent by `pool`, each given back when the consumer pulls
 * the next slice (so a consumer must be done with a slice by then, as `Chunker`s are). The
 * source's own arrays (an HTTP body's socket reads) then die at once, instead of waiting in a
 * paused pipeline long enough to be promoted, when V8 frees them only at a full collection.
 * Slices longer than the pool serves pass through as they are, never copied.
 *
 * When the consumer stops early or the source fails, the slice in use is not given back: it is
 * left to the garbage collector, since the consumer may still hold it.
 */
export async function* lentSlices(source: AsyncIterable<Uint8Array>, pool: BufferPool): AsyncGenerator<Uint8Array> {
  let lent: Uint8Array | undefined;
  for await (const slice of source) {
    if (lent !== undefined) pool.give(lent);
    lent = undefined;
    if (slice.length > pool.maxLength) {
      yield slice;
      continue;
    }
    const copy = pool.take(slice.length);
    copy.set(slice);
    lent = copy;
    yield copy;
  }
  if (lent !== undefined) pool.give(lent);
}
