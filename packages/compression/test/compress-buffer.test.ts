import { afterAll, describe, expect, it } from "vitest";
import type { CompressionType } from "@attic-ts/core";
import { NativeCompressor } from "../src/index.ts";
import { collect, mixedData, slices, textLike } from "./helpers.ts";

const compressor = new NativeCompressor({ workers: 2 });
// Small blocks, so a 1 MiB input takes the multi-block path.
const smallBlocks = new NativeCompressor({ pool: compressor.pool, blockSize: 100_000 });
afterAll(() => compressor.close());

const TYPES: CompressionType[] = ["none", "br", "zstd", "xz"];

describe("compressBuffer (one chunk in memory)", () => {
  it.each(TYPES)("%s: output decompresses to the input, also past one block, and leaves the input intact", async (type) => {
    for (const c of [compressor, smallBlocks]) {
      for (const input of [Buffer.alloc(0), Buffer.from("hello, attic"), textLike(64 * 1024), mixedData().subarray(0, 1024 * 1024)]) {
        const copy = Buffer.from(input);
        const packed = await c.compressBuffer(type, input);
        const unpacked = await collect(c.decompress(type, slices(packed)));
        expect(unpacked.equals(copy)).toBe(true);
        expect(input.equals(copy)).toBe(true); // not transferred away or changed
      }
    }
  });

  it.each(["br", "zstd", "xz"] as const)("%s: compresses (text shrinks) at the requested level", async (type) => {
    const text = textLike(256 * 1024);
    const packed = await compressor.compressBuffer(type, text);
    expect(packed.byteLength).toBeLessThan(text.byteLength / 3);
    const fast = await compressor.compressBuffer(type, text, { level: 1 });
    expect(Buffer.from(fast).equals(Buffer.from(packed))).toBe(false);
  });

  it("zstd output is a frame the streaming form would also produce for one block", async () => {
    const text = textLike(200 * 1024, 7);
    const viaBuffer = await compressor.compressBuffer("zstd", text);
    const viaStream = await collect(compressor.compress("zstd", slices(text)));
    expect(Buffer.from(viaBuffer).equals(viaStream)).toBe(true);
  });

  it.each(["zstd", "xz"] as const)("%s: a chunk's result lands in options.allocate's array, identical to the default", async (type) => {
    const text = textLike(200 * 1024, 3);
    const plain = await compressor.compressBuffer(type, text);
    const lent: Uint8Array[] = [];
    const allocate = (length: number) => {
      const out = new Uint8Array(new ArrayBuffer(length + 100), 0, length);
      lent.push(out);
      return out;
    };
    const placed = await compressor.compressBuffer(type, text, { allocate });
    expect(lent).toHaveLength(1);
    expect(placed).toBe(lent[0]);
    expect(Buffer.from(placed).equals(Buffer.from(plain))).toBe(true);
  });

  it("rejects an unknown type and an aborted signal", async () => {
    await expect(compressor.compressBuffer("lz4" as CompressionType, Buffer.from("x"))).rejects.toMatchObject({ code: "InvalidCompressionType" });
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    await expect(compressor.compressBuffer("zstd", Buffer.from("x"), { signal: controller.signal })).rejects.toThrow("gone");
  });
});
