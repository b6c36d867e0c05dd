import { constants as zlibConstants, createBrotliCompress, createBrotliDecompress } from "node:zlib";
import { createUnxz } from "node-liblzma";
import { DecompressStream } from "zstd-napi";
import type { Transform } from "node:stream";
import { InvalidCompressionTypeError } from "@attic-ts/core";
import type { CompressOptions, CompressionType, Compressor, IoOptions } from "@attic-ts/core";
import { abortableNext, releaseSource } from "./abortable-next.ts";
import { compressInBlocks } from "./block-parallel.ts";
import { effectiveLevel } from "./levels.ts";
import { throughTransform } from "./through-transform.ts";
import { WorkerPool } from "./worker-pool.ts";

/** 1 MiB: large enough that per-frame overhead and lost cross-block matches stay under ~1 %. */
export const DEFAULT_BLOCK_SIZE = 1024 * 1024;

export interface NativeCompressorOptions {
  /** Worker threads for zstd and xz; default `os.availableParallelism()`. Ignored with `pool`. */
  workers?: number | undefined;
  /** A pool to use instead of creating one; `close()` then leaves it running. */
  pool?: WorkerPool | undefined;
  /** Bytes per independently compressed zstd frame / xz stream; default 1 MiB. */
  blockSize?: number | undefined;
  /** Blocks in flight per `compress` call; default 2 × pool size (one running, one queued per worker). */
  maxInFlight?: number | undefined;
}

const TYPES: readonly CompressionType[] = ["none", "br", "zstd", "xz"];

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
      const next = await abortableNext(iterator, signal);
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
 * `maxInFlight × blockSize`, whatever the input size.
 */
export class NativeCompressor implements Compressor {
  readonly types: readonly CompressionType[] = TYPES;
  readonly #pool: WorkerPool;
  readonly #ownsPool: boolean;
  readonly #blockSize: number;
  readonly #maxInFlight: number;

  constructor(options: NativeCompressorOptions = {}) {
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new WorkerPool({ size: options.workers });
    this.#blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.#maxInFlight = options.maxInFlight ?? 2 * this.#pool.size;
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
          { blockSize: this.#blockSize, maxInFlight: this.#maxInFlight, signal },
        );
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
