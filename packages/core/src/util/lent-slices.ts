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
 *
 * A plain iterator, not a generator: `return()` reaches the source at once, even while a
 * `next()` is still waiting on it (a generator would queue it behind that read, so a stalled
 * body aborted by its signal would never be closed).
 */
export function lentSlices(source: AsyncIterable<Uint8Array>, pool: BufferPool): AsyncIterableIterator<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  let lent: Uint8Array | undefined;
  let finished = false;
  const giveBack = (): void => {
    if (lent !== undefined) pool.give(lent);
    lent = undefined;
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<Uint8Array>> {
      if (finished) return { done: true, value: undefined };
      giveBack();
      const step = await iterator.next();
      if (step.done) {
        finished = true;
        return { done: true, value: undefined };
      }
      const slice = step.value;
      if (slice.length > pool.maxLength) return { done: false, value: slice };
      const copy = pool.take(slice.length);
      copy.set(slice);
      lent = copy;
      return { done: false, value: copy };
    },
    async return(): Promise<IteratorResult<Uint8Array>> {
      finished = true;
      lent = undefined;
      await iterator.return?.();
      return { done: true, value: undefined };
    },
  };
}
