import { setMaxListeners } from "node:events";
import { nextUntilAborted } from "@attic-ts/core";
import { releaseSource } from "./release-source.ts";

/** Compresses one block into one self-contained frame/stream; rejects when `signal` aborts. */
export type BlockCompressor = (block: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>;

export interface BlockParallelOptions {
  /** Size of each independently compressed block, in bytes (the last one may be shorter). */
  blockSize: number;
  /** Blocks submitted but not yet yielded; bounds memory to about maxInFlight × blockSize. */
  maxInFlight: number;
  signal?: AbortSignal | undefined;
}

interface InFlight {
  promise: Promise<Uint8Array>;
  settled: boolean;
}

/**
 * Re-slices `source` into blocks, compresses up to `maxInFlight` of them at once and yields the
 * outputs in input order. Valid only for formats whose independent streams concatenate into one
 * valid stream (zstd frames, xz streams). Empty input still yields one (empty) stream, so the
 * output is always decodable.
 *
 * Source chunks are referenced until copied into a block; like Node streams, the source must not
 * reuse a chunk's memory after yielding it.
 */
export async function* compressInBlocks(
  source: AsyncIterable<Uint8Array>,
  compressBlock: BlockCompressor,
  options: BlockParallelOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { blockSize, maxInFlight, signal } = options;
  signal?.throwIfAborted();
  // Cancels our own outstanding jobs on abort, on a failed block, or when the consumer stops early.
  const stop = new AbortController();
  // Each in-flight job listens on it; keep Node's listener-leak warning for real leaks.
  setMaxListeners(Math.max(10, maxInFlight + 2), stop.signal);
  const forwardAbort = (): void => stop.abort(signal?.reason);
  signal?.addEventListener("abort", forwardAbort, { once: true });

  const iterator = source[Symbol.asyncIterator]();
  const inFlight: InFlight[] = [];
  const pieces: Uint8Array[] = [];
  let buffered = 0;
  let submitted = 0;
  let sourceDone = false;
  let finished = false;

  const submit = (length: number): void => {
    const block = new Uint8Array(length);
    let offset = 0;
    while (offset < length) {
      const piece = pieces[0] as Uint8Array;
      const take = Math.min(piece.byteLength, length - offset);
      block.set(take === piece.byteLength ? piece : piece.subarray(0, take), offset);
      offset += take;
      if (take === piece.byteLength) pieces.shift();
      else pieces[0] = piece.subarray(take);
    }
    buffered -= length;
    const entry: InFlight = { promise: compressBlock(block, stop.signal), settled: false };
    // Also keeps a failure of a later block from being an unhandled rejection while we await an earlier one.
    entry.promise.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    );
    inFlight.push(entry);
    submitted++;
  };

  try {
    for (;;) {
      const next = await nextUntilAborted(iterator, signal);
      if (next.done === true) {
        sourceDone = true;
        break;
      }
      if (next.value.byteLength === 0) continue;
      pieces.push(next.value);
      buffered += next.value.byteLength;
      while (buffered >= blockSize) {
        submit(blockSize);
        // Hand over finished blocks early, and wait only when the in-flight limit is reached.
        while (inFlight.length > 0 && ((inFlight[0] as InFlight).settled || inFlight.length >= maxInFlight)) {
          yield await (inFlight.shift() as InFlight).promise;
        }
      }
    }
    if (buffered > 0 || submitted === 0) submit(buffered);
    while (inFlight.length > 0) yield await (inFlight.shift() as InFlight).promise;
    finished = true;
  } finally {
    signal?.removeEventListener("abort", forwardAbort);
    if (!finished) {
      stop.abort(signal?.reason);
      if (!sourceDone) releaseSource(iterator);
    }
  }
}
