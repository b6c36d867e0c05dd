import { afterAll, describe, expect, it } from "vitest";
import { isAtticError } from "@attic-ts/core";
import type { CompressionType } from "@attic-ts/core";
import { NativeCompressor } from "../src/index.ts";
import { collect, endlessSource, eventually, failingSource, mixedData, slices, textLike } from "./helpers.ts";

const compressor = new NativeCompressor({ workers: 2 });
afterAll(() => compressor.close());

const TYPES: CompressionType[] = ["none", "br", "zstd", "xz"];
const big = mixedData();

describe("NativeCompressor round trips", () => {
  it.each(TYPES)("%s: empty, small and multi-MiB inputs in odd slices", async (type) => {
    // Default blocks (one or two for `big`) and small ones (many blocks, many in flight).
    const smallBlocks = new NativeCompressor({ pool: compressor.pool, blockSize: 100_000 });
    for (const c of [compressor, smallBlocks]) {
      for (const input of [Buffer.alloc(0), Buffer.from("hello, attic"), big]) {
        const packed = await collect(c.compress(type, slices(input)));
        const unpacked = await collect(c.decompress(type, slices(packed, [3, 65_536, 1_000_003])));
        expect(unpacked.equals(input)).toBe(true);
      }
    }
  });

  it("lists the four types", () => {
    expect([...compressor.types].sort()).toEqual(["br", "none", "xz", "zstd"]);
  });

  it("none passes bytes through unchanged", async () => {
    expect((await collect(compressor.compress("none", slices(big)))).equals(big)).toBe(true);
  });

  it.each(["br", "zstd", "xz"] as const)("%s: compressible data shrinks", async (type) => {
    const text = textLike(4 * 1024 * 1024);
    const packed = await collect(compressor.compress(type, slices(text)));
    expect(packed.byteLength).toBeLessThan(text.byteLength / 3);
  });

  it("empty zstd and xz inputs still give a valid (non-empty) stream", async () => {
    for (const type of ["zstd", "xz"] as const) {
      const packed = await collect(compressor.compress(type, slices(Buffer.alloc(0))));
      expect(packed.byteLength).toBeGreaterThan(0);
    }
  });

  it("the level changes the output (zstd 1 vs 19, xz 0 vs 6, br 1 vs 9)", async () => {
    const text = textLike(1024 * 1024, 3);
    const pairs = [["zstd", 1, 19], ["xz", 0, 6], ["br", 1, 9]] as const;
    for (const [type, low, high] of pairs) {
      const a = await collect(compressor.compress(type, slices(text), { level: low }));
      const b = await collect(compressor.compress(type, slices(text), { level: high }));
      expect(a.equals(b), type).toBe(false);
      expect((await collect(compressor.decompress(type, slices(b)))).equals(text)).toBe(true);
    }
  });

  it("the default level is Attic's (zstd 8, xz 2, br 5)", async () => {
    const text = textLike(512 * 1024, 5);
    for (const [type, level] of [["zstd", 8], ["xz", 2], ["br", 5]] as const) {
      const byDefault = await collect(compressor.compress(type, slices(text)));
      const explicit = await collect(compressor.compress(type, slices(text), { level }));
      expect(byDefault.equals(explicit), type).toBe(true);
    }
  });
});

describe("NativeCompressor errors", () => {
  it("rejects an unknown type with InvalidCompressionType, at call time", () => {
    for (const call of [
      () => compressor.compress("bzip2" as CompressionType, slices(big)),
      () => compressor.decompress("gzip" as CompressionType, slices(big)),
    ]) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(isAtticError(caught) && caught.code).toBe("InvalidCompressionType");
    }
  });

  it.each(TYPES)("%s: a failing source propagates its error", async (type) => {
    const boom = new Error(`boom-${type}`);
    await expect(collect(compressor.compress(type, failingSource(textLike(3 * 1024 * 1024), boom)))).rejects.toBe(boom);
    const packed = await collect(compressor.compress(type, slices(textLike(3 * 1024 * 1024))));
    const prefix = packed.subarray(0, packed.byteLength >> 1);
    await expect(collect(compressor.decompress(type, failingSource(prefix, boom)))).rejects.toBe(boom);
  });

  it.each(["br", "zstd", "xz"] as const)("%s: truncated input fails to decompress", async (type) => {
    const packed = await collect(compressor.compress(type, slices(textLike(2 * 1024 * 1024, 9))));
    await expect(collect(compressor.decompress(type, slices(packed.subarray(0, packed.byteLength - 20))))).rejects.toThrow();
  });

  it.each(["br", "zstd", "xz"] as const)("%s: garbage fails to decompress", async (type) => {
    await expect(collect(compressor.decompress(type, slices(textLike(100_000))))).rejects.toThrow();
  });
});

describe("NativeCompressor abort and resources", () => {
  it.each(["br", "zstd", "xz"] as const)("%s: abort mid-stream rejects, releases the source, leaves no busy worker", async (type) => {
    const controller = new AbortController();
    const { source, state } = endlessSource();
    const output = compressor.compress(type, source, { signal: controller.signal });
    let outputs = 0;
    const run = (async () => {
      for await (const _ of output) {
        outputs++;
        if (state.read > 4 * 1024 * 1024) controller.abort(new Error("stop"));
      }
    })();
    setTimeout(() => controller.abort(new Error("stop")), 5_000);
    await expect(run).rejects.toThrow("stop");
    await eventually(() => state.released);
    await eventually(() => compressor.pool.busyCount === 0 && compressor.pool.queuedCount === 0);
    // A later job on the same pool still completes.
    const text = textLike(3 * 1024 * 1024, 11);
    const again = await collect(compressor.decompress(type, compressor.compress(type, slices(text))));
    expect(again.equals(text)).toBe(true);
  });

  it.each(TYPES)("%s: abort while the source is stalled rejects promptly", async (type) => {
    const controller = new AbortController();
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield textLike(10);
      await new Promise(() => {});
    }
    const started = Date.now();
    setTimeout(() => controller.abort(new Error("stalled")), 50);
    await expect(collect(compressor.compress(type, stalled(), { signal: controller.signal }))).rejects.toThrow("stalled");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("an already aborted signal rejects before reading", async () => {
    const { source, state } = endlessSource();
    await expect(collect(compressor.compress("zstd", source, { signal: AbortSignal.abort() }))).rejects.toThrow();
    expect(state.read).toBe(0);
  });

  it("reads ahead of the consumer by at most the in-flight window (memory bound)", async () => {
    const blockSize = 64 * 1024;
    const bounded = new NativeCompressor({ pool: compressor.pool, blockSize, maxInFlight: 2 });
    const { source, state } = endlessSource(16 * 1024);
    const iterator = bounded.compress("zstd", source)[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((r) => setTimeout(r, 300)); // give a runaway reader time to run away
    // One output consumed: at most that block, the in-flight window, one partial block and one chunk.
    expect(state.read).toBeLessThanOrEqual((2 + 2) * blockSize + 16 * 1024);
    await iterator.return?.();
    await eventually(() => state.released);
    await bounded.close(); // a borrowed pool stays open
    expect(compressor.pool.workerCount).toBeGreaterThan(0);
  });

  it("a consumer stopping early releases the source and cancels queued blocks", async () => {
    const { source, state } = endlessSource();
    for await (const _ of compressor.compress("xz", source)) break;
    await eventually(() => state.released);
    await eventually(() => compressor.pool.busyCount === 0 && compressor.pool.queuedCount === 0);
  });
});
