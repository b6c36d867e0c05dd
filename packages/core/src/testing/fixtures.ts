import { createHash } from "node:crypto";

/**
 * Attic's test-data generator (`attic/src/testing`): a u32 LCG seeded with 42; for byte index
 * `i`, `state = state * 1664525 + 1013904223 (mod 2^32)`, then `byte = (state >>> (i % 24)) & 0xff`.
 * The golden FastCDC vectors for `attic-fake-lcg-*` inputs are computed over these bytes.
 *
 * @param length - number of bytes to generate.
 */
export function atticFakeData(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = 42;
  let shift = 0;
  for (let i = 0; i < length; i++) {
    // Math.imul keeps the product exact modulo 2^32 (a float multiply would lose low bits).
    state = (Math.imul(state, 1664525) + 1013904223) | 0;
    out[i] = (state >>> shift) & 0xff;
    shift = shift === 23 ? 0 : shift + 1;
  }
  return out;
}

/**
 * Reproducible pseudo-random bytes (mulberry32 stream), for tests that need data with no
 * structure. Same seed and length, same bytes, on every platform.
 *
 * @param seed - any 32-bit integer.
 * @param length - number of bytes to generate.
 */
export function seededRandomBytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed | 0;
  let i = 0;
  while (i < length) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    let word = (t ^ (t >>> 14)) >>> 0;
    for (let k = 0; k < 4 && i < length; k++, i++) {
      out[i] = word & 0xff;
      word >>>= 8;
    }
  }
  return out;
}

/**
 * Feeds `bytes` as an async stream of slices. `sliceSize` is either one size or a list of sizes
 * used in turn (cycling); a 0 in the list yields an empty slice, which consumers must tolerate.
 * Each slice is a fresh copy, so a consumer that keeps slices cannot alias `bytes`.
 */
export async function* sliced(bytes: Uint8Array, sliceSize: number | readonly number[]): AsyncGenerator<Uint8Array> {
  const sizes = typeof sliceSize === "number" ? [sliceSize] : sliceSize;
  if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 0) || sizes.every((s) => s === 0)) {
    throw new RangeError(`sliced: slice sizes must be non-negative integers, not all 0; got ${String(sliceSize)}`);
  }
  let offset = 0;
  let k = 0;
  while (offset < bytes.length) {
    const size = sizes[k % sizes.length]!;
    k++;
    const end = Math.min(bytes.length, offset + size);
    yield bytes.slice(offset, end);
    offset = end;
  }
}

/** Concatenates every array of an async (or sync) iterable into one. */
export async function collect(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of source) {
    parts.push(part);
    total += part.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Lowercase hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A source from {@link trackedSource}, and whether its consumer closed it. */
export interface TrackedSource {
  source: AsyncIterable<Uint8Array>;
  /** True once `return()` was called on the source's iterator. */
  readonly closed: boolean;
}

/**
 * A source that yields `slices` and then ends or, with `stall`, never answers again (a client
 * that stops sending without closing), recording whether the consumer closed it: what a test
 * of cancellation or early exit needs to check that the source was let go.
 */
export function trackedSource(slices: readonly Uint8Array[], options: { stall?: boolean } = {}): TrackedSource {
  let closed = false;
  const source: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => {
      let next = 0;
      return {
        next: (): Promise<IteratorResult<Uint8Array>> => {
          if (next < slices.length) return Promise.resolve({ done: false, value: slices[next++]! });
          return options.stall ? new Promise(() => undefined) : Promise.resolve({ done: true, value: undefined });
        },
        return: async (): Promise<IteratorResult<Uint8Array>> => {
          closed = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return {
    source,
    get closed() {
      return closed;
    },
  };
}
