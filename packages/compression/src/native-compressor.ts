import { promisify } from "node:util";
import { brotliCompress, constants as zlibConstants, createBrotliCompress, createBrotliDecompress } from "node:zlib";
import { createUnxz } from "node-liblzma";
import { DecompressStream } from "zstd-napi";
import type { Transform } from "node:stream";
import { asyncOf, InvalidCompressionTypeError, nextUntilAborted } from "@attic-ts/core";
import type { CompressOptions, CompressionType, Compressor, IoOptions } from "@attic-ts/core";
import { releaseSource } from "./release-source.ts";
import { compressInBlocks } from "./block-parallel.ts";
import { effectiveLevel } from "./levels.ts";
import { throughTransform } from "./through-transform.ts";
import { WorkerPool } from "./worker-pool.ts";

const MiB = 1024 * 1024;

/**
 * Block size per codec, in bytes. Every block starts without history, so small blocks cost
 * ratio: on shared libraries, zstd -8 output is 9 % larger than one stream with 1 MiB blocks and
 * 2.5 % with 4 MiB, for 4 % more CPU; xz -2 loses 26 % at 1 MiB and 2 % at 8 MiB.
 */
export const DEFAULT_BLOCK_SIZE: Readonly<Record<"zstd" | "xz", number>> = { zstd: 4 * MiB, xz: 8 * MiB };

/** Input bytes one `compress` call may hold in flight by default (caps maxInFlight on many cores). */
export const DEFAULT_IN_FLIGHT_BYTES = 32 * MiB;

export interface NativeCompressorOptions {
  /** Worker threads for zstd and xz; default `os.availableParallelism()`. Ignored with `pool`. */
  workers?: number | undefined;
  /** A pool to use instead of creating one; `close()` then leaves it running. */
  pool?: WorkerPool | undefined;
  /** Bytes per independently compressed zstd frame / xz stream; default DEFAULT_BLOCK_SIZE. */
  blockSize?: number | undefined;
  /**
   * Blocks in flight per `compress` call; default 2 × pool size (one running and one queued per
   * worker), at least 2 and at most DEFAULT_IN_FLIGHT_BYTES / blockSize.
   */
  maxInFlight?: number | undefined;
}

const TYPES: readonly CompressionType[] = ["none", "br", "zstd", "xz"];

const brotliCompressAsync = promisify(brotliCompress);

function checkType(type: string): CompressionType {
  if (!(TYPES as readonly string[]).includes(type)) throw new InvalidCompressionTypeError(type);
  return type as CompressionType;
}

async function* passThrough(source: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  const iterator = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const next = await nextUntilAborted(iterator, signal);
      if (next.done === true) break;
      yield next.value;
    }
    done = true;
  } finally {
    if (!done) releaseSource(iterator);
  }
}

/**
 * Compressor for `none`, `br`, `zstd` and `xz` on native codecs.
 *
 * zstd and xz cut the input into blocks compressed in parallel on a worker pool, each block a
 * complete zstd frame or xz stream; their concatenation is one valid body, just as Attic's
 * multi-chunk NARs are. Brotli streams do not concatenate, so brotli runs as one zlib stream
 * (zlib works on the libuv thread pool, off the event loop). Memory per call is bounded by
 * about `maxInFlight × blockSize` (16 MiB for zstd on two cores), whatever the input size.
 */
export class NativeCompressor implements Compressor {
  readonly types: readonly CompressionType[] = TYPES;
  readonly #pool: WorkerPool;
  readonly #ownsPool: boolean;
  readonly #blockSize: number | undefined;
  readonly #maxInFlight: number | undefined;

  constructor(options: NativeCompressorOptions = {}) {
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new WorkerPool({ size: options.workers });
    this.#blockSize = options.blockSize;
    this.#maxInFlight = options.maxInFlight;
  }

  #blockOptions(type: "zstd" | "xz"): { blockSize: number; maxInFlight: number } {
    const blockSize = this.#blockSize ?? DEFAULT_BLOCK_SIZE[type];
    const byMemory = Math.max(2, Math.floor(DEFAULT_IN_FLIGHT_BYTES / blockSize));
    return { blockSize, maxInFlight: this.#maxInFlight ?? Math.min(2 * this.#pool.size, byMemory) };
  }

  /** The worker pool (for diagnostics and tests). */
  get pool(): WorkerPool {
    return this.#pool;
  }

  /** Throws `InvalidCompressionTypeError` at once for an unknown type; other errors surface while iterating. */
  compress(type: CompressionType, source: AsyncIterable<Uint8Array>, options: CompressOptions = {}): AsyncIterable<Uint8Array> {
    const { signal } = options;
    const checked = checkType(type);
    switch (checked) {
      case "none":
        return passThrough(source, signal);
      case "br": {
        const quality = effectiveLevel("br", options.level);
        const params = { [zlibConstants.BROTLI_PARAM_QUALITY]: quality };
        return throughTransform(source, () => createBrotliCompress({ params }), signal);
      }
      case "zstd":
      case "xz": {
        const level = effectiveLevel(checked, options.level);
        return compressInBlocks(
          source,
          (data, jobSignal) => this.#pool.run({ type: checked, level, data }, { signal: jobSignal, transfer: true }),
          { ...this.#blockOptions(checked), signal },
        );
      }
    }
  }

  /**
   * One chunk in memory: for zstd and xz a single job on the pool when it fits in one block
   * (no block re-slicing, stream generators or abort wiring per chunk), brotli on the libuv
   * pool. Same output format as `compress`; larger inputs go through `compress`.
   */
  async compressBuffer(type: CompressionType, data: Uint8Array, options: CompressOptions = {}): Promise<Uint8Array> {
    const { signal } = options;
    signal?.throwIfAborted();
    const checked = checkType(type);
    switch (checked) {
      case "none":
        return data;
      case "br": {
        const quality = effectiveLevel("br", options.level);
        return brotliCompressAsync(data, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: quality } });
      }
      case "zstd":
      case "xz": {
        const level = effectiveLevel(checked, options.level);
        if (data.byteLength <= this.#blockOptions(checked).blockSize) {
          // Not transferred: the caller still owns `data` (it is a structured-clone copy).
          return this.#pool.run({ type: checked, level, data }, { signal, allocate: options.allocate });
        }
        const parts: Uint8Array[] = [];
        for await (const part of this.compress(checked, asyncOf(data), options)) parts.push(part);
        return Buffer.concat(parts);
      }
    }
  }

  /**
   * Streams the plaintext back. zstd accepts any number of concatenated frames and xz any
   * number of concatenated streams; truncated input is an error.
   */
  decompress(type: CompressionType, source: AsyncIterable<Uint8Array>, options: IoOptions = {}): AsyncIterable<Uint8Array> {
    const { signal } = options;
    switch (checkType(type)) {
      case "none":
        return passThrough(source, signal);
      case "br":
        return throughTransform(source, () => createBrotliDecompress(), signal);
      case "zstd":
        return throughTransform(source, () => new DecompressStream(), signal);
      case "xz":
        return throughTransform(source, () => createUnxz() as unknown as Transform, signal);
    }
  }

  /** Terminates the worker threads (when this compressor created them). */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.close();
  }
}
