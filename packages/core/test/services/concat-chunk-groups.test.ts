import { describe, expect, it } from "vitest";
import { concatChunkStreams } from "../../src/services/concat-chunk-streams.ts";
import type { StoredPart } from "../../src/services/concat-chunk-streams.ts";
import type { BlobStore, Download, OpenOptions, ReadManyOptions, SizedFile } from "../../src/storage/blob-store.ts";
import { MemoryBlobStore } from "../../src/storage/memory-blob-store.ts";
import type { RemoteFile } from "../../src/storage/remote-file.ts";
import { StorageError } from "../../src/errors.ts";
import { SlotPool } from "../../src/util/slot-pool.ts";
import { asyncOf } from "../../src/util/async-of.ts";
import { collect } from "../../../../test/helpers/data.ts";
import { bytesOf, settle, errorOf } from "./stream-helpers.ts";

/** A store that reads groups itself (into the caller's memory when given), and records each call. */
class GroupingStore implements BlobStore {
  readonly type = "grouping";
  readonly capabilities = { presignedUrls: false, list: false };
  readonly groups: number[][] = [];
  readonly opens: number[] = [];
  /** Calls that wrote into the memory they were given. */
  intoUsed = 0;
  /** Answers one byte short for the group holding this file index. */
  shortAt = -1;
  failAt = -1;

  constructor(
    readonly inner: MemoryBlobStore,
    readonly indexOf: (ref: RemoteFile) => number,
  ) {}

  refFor(key: string): RemoteFile {
    return this.inner.refFor(key);
  }

  put(key: string, body: AsyncIterable<Uint8Array>): Promise<RemoteFile> {
    return this.inner.put(key, body);
  }

  async open(ref: RemoteFile, options: OpenOptions = {}): Promise<Download> {
    this.opens.push(this.indexOf(ref));
    return this.inner.open(ref, options);
  }

  async readMany(files: readonly SizedFile[], options: ReadManyOptions = {}): Promise<Uint8Array> {
    const indexes = files.map((file) => this.indexOf(file.ref));
    this.groups.push(indexes);
    await new Promise((resolve) => setImmediate(resolve));
    options.signal?.throwIfAborted();
    if (indexes.includes(this.failAt)) throw new StorageError(`group with file ${this.failAt} failed`);
    const parts: Buffer[] = [];
    for (const file of files) {
      const download = await this.inner.open(file.ref);
      if (download.kind !== "stream") throw new Error("expected a stream");
      const bytes = await collect(download.stream);
      if (bytes.length !== file.size) throw new StorageError(`a file holds ${bytes.length} bytes, not ${file.size}`);
      parts.push(bytes);
    }
    let all: Uint8Array = Buffer.concat(parts);
    if (indexes.includes(this.shortAt)) all = all.subarray(0, all.length - 1);
    const into = options.into;
    if (into === undefined || into.byteLength < all.byteLength) return all;
    into.set(all);
    this.intoUsed++;
    return into.subarray(0, all.byteLength);
  }

  delete(ref: RemoteFile): Promise<void> {
    return this.inner.delete(ref);
  }
}

async function grouping(sizes: Array<number | null>): Promise<{ store: GroupingStore; parts: StoredPart[]; expected: Buffer }> {
  const inner = new MemoryBlobStore();
  const bytes = sizes.map((n, i) => bytesOf(n ?? 1000, i));
  const refs = await Promise.all(bytes.map((b, i) => inner.put(`part-${i}.chunk`, asyncOf(b))));
  const keys = refs.map((ref) => JSON.stringify(ref));
  const store = new GroupingStore(inner, (ref) => keys.indexOf(JSON.stringify(ref)));
  const parts = refs.map((ref, i) => ({ ref, size: sizes[i] }));
  return { store, parts, expected: Buffer.concat(bytes) };
}

describe("concatChunkStreams with a store that reads groups", () => {
  it("reads consecutive small files as groups within groupBytes, in order", async () => {
    const sizes = Array.from({ length: 60 }, (_, i) => 1000 + ((i * 337) % 3000));
    const { store, parts, expected } = await grouping(sizes);
    const out = await collect(concatChunkStreams(store, parts, { readAheadBytes: 40_000, groupBytes: 10_000 }));
    expect(out.equals(expected)).toBe(true);
    expect(store.opens).toEqual([]);
    // Every file once, in order, and no group over the limit.
    expect(store.groups.flat()).toEqual(sizes.map((_, i) => i));
    for (const group of store.groups) expect(group.reduce((sum, i) => sum + sizes[i]!, 0)).toBeLessThanOrEqual(10_000);
    expect(store.groups.length).toBeLessThan(sizes.length / 2);
  });

  it("opens files of unknown size or above groupBytes one at a time, grouping the rest", async () => {
    const sizes = [100, 200, null, 300, 50_000, 400, 500];
    const { store, parts, expected } = await grouping(sizes);
    const out = await collect(concatChunkStreams(store, parts, { readAheadBytes: 100_000, groupBytes: 10_000 }));
    expect(out.equals(expected)).toBe(true);
    expect(store.opens).toEqual([2, 4]);
    expect(store.groups).toEqual([[0, 1], [3], [5, 6]]);
  });

  it("reads groups into slots and reuses the slots the consumer hands back", async () => {
    const sizes = Array.from({ length: 40 }, () => 3000);
    const { store, parts, expected } = await grouping(sizes);
    const slots = new SlotPool(8000, 8);
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 20_000, slots });
    const seen = new Set<ArrayBufferLike>();
    const out: Buffer[] = [];
    for await (const piece of stream) {
      // Copied before it is handed back: the slot's next group overwrites it.
      out.push(Buffer.from(piece as Buffer));
      seen.add((piece as Buffer).buffer);
      stream.release(piece as Buffer);
    }
    expect(Buffer.concat(out).equals(expected)).toBe(true);
    // Groups of 2 files (the slot size bounds them), read into slots; fewer slots than groups.
    expect(store.groups.every((group) => group.length === 2)).toBe(true);
    expect(store.intoUsed).toBe(store.groups.length);
    expect(seen.size).toBeLessThan(store.groups.length);
    for (const memory of seen) expect(memory).toBeInstanceOf(SharedArrayBuffer);
    expect(slots.freeSlots).toBe(seen.size);
  });

  it("starts a group ahead only with room for half a slot, so groups do not shrink to slivers", async () => {
    const { store, parts, expected } = await grouping(Array.from({ length: 100 }, () => 1000));
    const slots = new SlotPool(8000, 8);
    // The budget takes one 8-file group beyond the first one ahead, and 2,000 bytes more.
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 10_000, slots });
    const out: Buffer[] = [];
    for await (const piece of stream) {
      out.push(Buffer.from(piece as Buffer));
      stream.release(piece as Buffer);
      await settle();
    }
    expect(Buffer.concat(out).equals(expected)).toBe(true);
    const sizes = store.groups.map((group) => group.length);
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(4);
  });

  it("asks for groups beyond the next one in pairs, when the budget holds a pair", async () => {
    // Groups above the stream's 16 KiB high-water mark, so each read takes one group.
    const { store, parts, expected } = await grouping(Array.from({ length: 120 }, () => 5000));
    const slots = new SlotPool(40_000, 16);
    // Room for five 8-file groups beyond the next one.
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 200_000, slots });
    const out: Buffer[] = [];
    const askedPerPiece: number[] = [];
    let asked = 0;
    for await (const piece of stream) {
      out.push(Buffer.from(piece as Buffer));
      stream.release(piece as Buffer);
      await settle();
      askedPerPiece.push(store.groups.length - asked);
      asked = store.groups.length;
    }
    expect(Buffer.concat(out).equals(expected)).toBe(true);
    expect(store.groups.flat()).toEqual(parts.map((_, i) => i));
    // After the first fill, each group sent frees room for one, and every second one lets a
    // pair be asked for; only the last of the 15 groups may come alone.
    const steady = askedPerPiece.slice(1);
    expect(steady.filter((n) => n === 2).length).toBeGreaterThanOrEqual(3);
    expect(steady.filter((n) => n !== 0 && n !== 2)).toEqual(steady.includes(1) ? [1] : []);
    expect(steady.filter((n) => n === 1).length).toBeLessThanOrEqual(1);

    // A budget that cannot hold a pair still reads ahead, one group at a time.
    const small = await grouping(Array.from({ length: 40 }, () => 5000));
    const bytes = await collect(concatChunkStreams(small.store, small.parts, { readAheadBytes: 60_000, slots: new SlotPool(40_000, 8) }));
    expect(bytes.equals(small.expected)).toBe(true);
    expect(small.store.groups.flat()).toEqual(small.parts.map((_, i) => i));
    // Groups of half a slot at least, as without pairs.
    for (const group of small.store.groups) expect(group.length).toBeGreaterThanOrEqual(4);
  });

  it("serves the right bytes to a consumer that never hands pieces back", async () => {
    const { store, parts, expected } = await grouping(Array.from({ length: 30 }, () => 2500));
    const slots = new SlotPool(8000, 8);
    const out: Buffer[] = [];
    // Kept (not copied): a slot reused behind the consumer's back would change these bytes.
    for await (const piece of concatChunkStreams(store, parts, { readAheadBytes: 20_000, slots })) out.push(piece as Buffer);
    expect(Buffer.concat(out).equals(expected)).toBe(true);
    expect(slots.freeSlots).toBe(0);
  });

  it("fails without sending a group whose bytes are not as long as its files' sizes", async () => {
    const { store, parts } = await grouping(Array.from({ length: 10 }, () => 1000));
    store.shortAt = 6;
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 4000, groupBytes: 2000 });
    const out: Buffer[] = [];
    const err = await errorOf(
      (async () => {
        for await (const piece of stream) out.push(Buffer.from(piece as Buffer));
      })(),
    );
    expect((err as Error).message).toBe("stored files 6-7 of the NAR have 1999 bytes, 2000 were recorded");
    expect(Buffer.concat(out).length).toBe(6000);
  });

  it("fails the stream when a group read fails", async () => {
    const { store, parts } = await grouping(Array.from({ length: 10 }, () => 1000));
    store.failAt = 7;
    await expect(collect(concatChunkStreams(store, parts, { readAheadBytes: 4000, groupBytes: 2000 }))).rejects.toThrow("group with file 7 failed");
  });

  it("gives back the slots of groups read ahead when destroyed, and not those still being read", async () => {
    const { store, parts } = await grouping(Array.from({ length: 40 }, () => 1000));
    const slots = new SlotPool(2000, 64);
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 10_000, slots });
    await new Promise<void>((resolve) => stream.once("readable", () => resolve()));
    await settle();
    // Every read has answered by now: some groups sit in the stream's buffer, the rest wait.
    const readAhead = store.groups.length;
    const buffered = stream.readableLength / 2000;
    expect(buffered).toBeGreaterThan(0);
    expect(readAhead - buffered).toBeGreaterThan(2);
    stream.destroy();
    await settle();
    // The buffered groups were pushed for a consumer, so they are not given back; the groups
    // read but not yet pushed are.
    expect(slots.freeSlots).toBe(readAhead - buffered);

    // Aborted while its read runs: the store rejects, and that slot is not reused.
    const controller = new AbortController();
    const pool = new SlotPool(2000, 64);
    const aborted = concatChunkStreams(store, parts, { readAheadBytes: 10_000, slots: pool, signal: controller.signal });
    aborted.on("error", () => {});
    aborted.resume();
    controller.abort(new Error("client went away"));
    await settle();
    expect(aborted.destroyed).toBe(true);
    expect(pool.freeSlots).toBe(0);
  });
});
