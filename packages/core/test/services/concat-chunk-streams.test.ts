import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { concatChunkStreams, ReadAheadPool } from "../../src/services/concat-chunk-streams.ts";
import type { StoredPart } from "../../src/services/concat-chunk-streams.ts";
import type { BlobStore, Download, OpenOptions } from "../../src/storage/blob-store.ts";
import { MemoryBlobStore } from "../../src/storage/memory-blob-store.ts";
import type { RemoteFile } from "../../src/storage/remote-file.ts";
import { asyncOf } from "../../src/util/async-of.ts";
import { collect } from "../../../../test/helpers/data.ts";
import { bytesOf, settle, errorOf } from "./stream-helpers.ts";

async function storeParts(store: MemoryBlobStore, parts: Uint8Array[]): Promise<StoredPart[]> {
  return Promise.all(parts.map(async (bytes, i) => ({ ref: await store.put(`part-${i}.chunk`, asyncOf(bytes)), size: bytes.length })));
}

/**
 * A store that counts what is open: a file counts from `open` until its stream closes, and
 * records the most opened at once and the `expectedSize` hints it was given.
 */
class CountingStore implements BlobStore {
  readonly type = "counting";
  readonly capabilities = { presignedUrls: false, list: false };
  openNow = 0;
  maxOpen = 0;
  opens = 0;
  readonly hints: Array<number | undefined> = [];
  failAt = -1;

  constructor(readonly inner: MemoryBlobStore) {}

  refFor(key: string): RemoteFile {
    return this.inner.refFor(key);
  }

  put(key: string, body: AsyncIterable<Uint8Array>): Promise<RemoteFile> {
    return this.inner.put(key, body);
  }

  async open(ref: RemoteFile, options: OpenOptions = {}): Promise<Download> {
    const index = this.opens++;
    this.hints.push(options.expectedSize);
    await new Promise((resolve) => setImmediate(resolve));
    if (index === this.failAt) throw new Error(`open ${index} failed`);
    const download = await this.inner.open(ref, options);
    if (download.kind !== "stream") return download;
    this.openNow++;
    this.maxOpen = Math.max(this.maxOpen, this.openNow);
    download.stream.once("close", () => this.openNow--);
    return download;
  }

  delete(ref: RemoteFile): Promise<void> {
    return this.inner.delete(ref);
  }
}

async function counting(sizes: number[]): Promise<{ store: CountingStore; parts: StoredPart[]; expected: Buffer }> {
  const inner = new MemoryBlobStore();
  const bytes = sizes.map((n, i) => bytesOf(n, i));
  const parts = await storeParts(inner, bytes);
  return { store: new CountingStore(inner), parts, expected: Buffer.concat(bytes) };
}

describe("concatChunkStreams", () => {
  it("concatenates the files in order", async () => {
    const store = new MemoryBlobStore();
    const parts = await storeParts(store, [Buffer.from("one "), Buffer.from("two "), Buffer.from("three")]);
    expect((await collect(concatChunkStreams(store, parts, { readAheadBytes: 1024 }))).toString()).toBe("one two three");
  });

  it("serves empty parts, no parts, and parts of unknown size", async () => {
    const { store, parts, expected } = await counting([0, 5, 0, 0, 3, 0]);
    expect((await collect(concatChunkStreams(store, parts, { readAheadBytes: 1 }))).equals(expected)).toBe(true);
    expect(await collect(concatChunkStreams(store, [], { readAheadBytes: 1 }))).toHaveLength(0);
    const unknown = parts.map((p) => ({ ref: p.ref, size: null }));
    expect((await collect(concatChunkStreams(store, unknown, { readAheadBytes: 1 }))).equals(expected)).toBe(true);
  });

  it("passes each part's size to the store as expectedSize", async () => {
    const { store, parts } = await counting([10, 20, 30]);
    await collect(concatChunkStreams(store, [parts[0]!, { ref: parts[1]!.ref }, parts[2]!], { readAheadBytes: 100 }));
    expect(store.hints).toEqual([10, undefined, 30]);
  });

  // Parts above the result's 16 KiB high-water mark, so the slow readers below hold back.
  const PART = 32 * 1024;

  it("keeps the read-ahead within its byte budget", async () => {
    const sizes = Array.from({ length: 200 }, () => PART);
    const { store, parts, expected } = await counting(sizes);
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 5 * PART + 100 });
    // A slow reader, so everything that may be opened ahead is.
    const out: Buffer[] = [];
    for await (const piece of stream) {
      out.push(piece as Buffer);
      await settle();
    }
    expect(Buffer.concat(out).equals(expected)).toBe(true);
    // The current file and 5 ahead.
    expect(store.maxOpen).toBe(6);
    expect(store.openNow).toBe(0);
  });

  it("opens more files ahead with a larger budget, up to maxFilesAhead", async () => {
    const { store, parts } = await counting(Array.from({ length: 100 }, () => PART));
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 1 << 20, maxFilesAhead: 10 });
    for await (const _ of stream) await settle();
    expect(store.maxOpen).toBe(11);
  });

  it("always opens the next file, even one larger than the budget", async () => {
    const { store, parts } = await counting(Array.from({ length: 10 }, () => PART));
    for await (const _ of concatChunkStreams(store, parts, { readAheadBytes: 0 })) await settle();
    expect(store.maxOpen).toBe(2);
  });

  it("shares a pool between downloads and gives every byte back", async () => {
    const { store, parts, expected } = await counting(Array.from({ length: 50 }, () => PART));
    const pool = new ReadAheadPool(4 * PART);
    const slowRead = async () => {
      const out: Buffer[] = [];
      for await (const piece of concatChunkStreams(store, parts, { readAheadBytes: 100_000, pool })) {
        out.push(piece as Buffer);
        expect(pool.free).toBeGreaterThanOrEqual(0);
        await settle();
      }
      return Buffer.concat(out);
    };
    const results = await Promise.all([slowRead(), slowRead(), slowRead()]);
    for (const r of results) expect(r.equals(expected)).toBe(true);
    // 3 downloads: each its current file and 1 ahead, plus 4 parts' worth from the pool.
    expect(store.maxOpen).toBeLessThanOrEqual(3 * 2 + 4);
    expect(store.maxOpen).toBeGreaterThan(3 * 2);
    expect(pool.free).toBe(4 * PART);

    // Destroyed midway: the pool gets everything back as well.
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 100_000, pool });
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    await settle();
    expect(pool.free).toBeLessThan(4 * PART);
    stream.destroy();
    await settle();
    expect(pool.free).toBe(4 * PART);
    expect(store.openNow).toBe(0);
  });

  it("fails the stream when a part has more or fewer bytes than recorded, even from a store that ignores the hint", async () => {
    for (const recorded of [999, 1001, 0]) {
      const { store, parts } = await counting([1000, 1000, 1000, 1000]);
      const wrong = parts.map((p, i) => (i === 2 ? { ...p, size: recorded } : p));
      const stream = concatChunkStreams(store, wrong, { readAheadBytes: 10_000 });
      await expect(collect(stream)).rejects.toThrow(`stored file 2 of the NAR has 1000 bytes, ${recorded} were recorded`);
      await settle();
      expect(store.openNow).toBe(0);
    }
  });

  it("fails the stream (never a clean end) when a later open fails, and closes what was open", async () => {
    const { store, parts } = await counting(Array.from({ length: 20 }, () => 500));
    store.failAt = 12;
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 2000 });
    await expect(collect(stream)).rejects.toThrow("open 12 failed");
    await settle();
    expect(store.openNow).toBe(0);
  });

  it("fails when a part's stream errors, even one that errored while waiting its turn", async () => {
    const store = new MemoryBlobStore();
    const parts = await storeParts(store, [bytesOf(10, 1), bytesOf(10, 2), bytesOf(10, 3)]);
    const failing: BlobStore = {
      type: "failing",
      capabilities: { presignedUrls: false, list: false },
      refFor: (key) => store.refFor(key),
      put: (key, body) => store.put(key, body),
      delete: (ref) => store.delete(ref),
      async open(ref, options) {
        if (JSON.stringify(ref) !== JSON.stringify(parts[2]!.ref)) return store.open(ref, options);
        const stream = new Readable({ read() {} });
        setImmediate(() => stream.destroy(new Error("disk gone")));
        return { kind: "stream", stream };
      },
    };
    const stream = concatChunkStreams(failing, parts, { readAheadBytes: 1000 });
    const out: Buffer[] = [];
    const err = await errorOf(
      (async () => {
        for await (const piece of stream) {
          out.push(piece as Buffer);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })(),
    );
    expect((err as Error).message).toBe("disk gone");
    expect(Buffer.concat(out).length).toBeLessThanOrEqual(20);
  });

  it("an abort ends the stream with the signal's reason and closes every open file", async () => {
    const { store, parts } = await counting(Array.from({ length: 100 }, () => 1000));
    const controller = new AbortController();
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 20_000, signal: controller.signal });
    let got = 0;
    const err = await errorOf(
      (async () => {
        for await (const piece of stream) {
          got += (piece as Buffer).length;
          if (got >= 10_000) controller.abort(new Error("client disconnected"));
          await settle();
        }
      })(),
    );
    expect((err as Error).message).toBe("client disconnected");
    await settle();
    expect(store.openNow).toBe(0);
    expect(store.opens).toBeLessThan(100);
  });

  it("an already aborted signal fails at once and opens nothing more", async () => {
    const { store, parts } = await counting([10, 10, 10]);
    const controller = new AbortController();
    controller.abort(new Error("gone before start"));
    await expect(collect(concatChunkStreams(store, parts, { readAheadBytes: 100, signal: controller.signal }))).rejects.toThrow("gone before start");
    await settle();
    expect(store.openNow).toBe(0);
  });
});
