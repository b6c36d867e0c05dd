import { describe, expect, it } from "vitest";
import { concatChunkStreams } from "../../src/services/concat-chunk-streams.ts";
import type { PartSource, StoredPart } from "../../src/services/part-pages.ts";
import { eachPart } from "../../src/services/part-pages.ts";
import { MemoryBlobStore } from "../../src/storage/memory-blob-store.ts";
import { asyncOf } from "../../src/util/async-of.ts";
import { collect } from "../../../../test/helpers/data.ts";

/** `count` small stored parts with distinct bytes, and the bytes they concatenate to. */
async function storedParts(count: number): Promise<{ store: MemoryBlobStore; parts: StoredPart[]; expected: Buffer }> {
  const store = new MemoryBlobStore();
  const bodies = Array.from({ length: count }, (_, i) => Buffer.from(`part ${i};`.repeat(1 + (i % 5))));
  const parts = await Promise.all(bodies.map(async (bytes, i) => ({ ref: await store.put(`p-${i}.chunk`, asyncOf(bytes)), size: bytes.length })));
  return { store, parts, expected: Buffer.concat(bodies) };
}

/** A source over `parts` that records its loads and answers each after a macrotask. */
class RecordingSource implements PartSource {
  readonly loads: Array<{ from: number; limit: number }> = [];
  readonly signals: AbortSignal[] = [];
  failFrom = -1;
  shortFrom = -1;
  constructor(readonly parts: StoredPart[]) {}
  get count(): number {
    return this.parts.length;
  }
  async load(from: number, limit: number, signal: AbortSignal): Promise<StoredPart[]> {
    this.loads.push({ from, limit });
    this.signals.push(signal);
    await new Promise((resolve) => setImmediate(resolve));
    if (from === this.failFrom) throw new Error(`page at ${from} failed`);
    return this.parts.slice(from, from + (from === this.shortFrom ? limit - 1 : limit));
  }
}

describe("paged part lists", () => {
  it("concatenates a paged source in order, loading each page once and only a few ahead", async () => {
    const { store, parts, expected } = await storedParts(1000);
    const source = new RecordingSource(parts);
    const stream = concatChunkStreams(store, source, { readAheadBytes: 200, pageSize: 37, maxFilesAhead: 8 });
    const out: Buffer[] = [];
    let sent = 0;
    let worstLead = 0;
    for await (const piece of stream) {
      out.push(piece as Buffer);
      sent += (piece as Buffer).length;
      // Parts sent so far, roughly: every part is at least 7 bytes.
      const partsSent = Math.floor(sent / 7);
      const furthest = Math.max(...source.loads.map((l) => l.from + l.limit));
      worstLead = Math.max(worstLead, furthest - Math.min(partsSent, 1000));
    }
    expect(Buffer.concat(out).equals(expected)).toBe(true);
    const froms = source.loads.map((l) => l.from);
    expect(new Set(froms).size).toBe(froms.length); // no page twice
    expect(froms).toEqual(Array.from({ length: Math.ceil(1000 / 37) }, (_, i) => i * 37));
    expect(source.loads.at(-1)).toEqual({ from: 999, limit: 1 });
    // The current page, the next and the read-ahead's: never the whole list.
    expect(worstLead).toBeLessThanOrEqual(3 * 37 + 8);
  });

  it("fails the stream, never ends it cleanly, when a page can't be loaded", async () => {
    const { store, parts } = await storedParts(100);
    const source = new RecordingSource(parts);
    source.failFrom = 40;
    await expect(collect(concatChunkStreams(store, source, { readAheadBytes: 100, pageSize: 20 }))).rejects.toThrow(/page at 40 failed/);
  });

  it("fails the stream when a page comes back short (the list changed while it was served)", async () => {
    const { store, parts } = await storedParts(100);
    const source = new RecordingSource(parts);
    source.shortFrom = 60;
    await expect(collect(concatChunkStreams(store, source, { readAheadBytes: 100, pageSize: 20 }))).rejects.toThrow(/came back as 19 entries/);
  });

  it("destroying the stream aborts page loads and loads nothing more", async () => {
    const { store, parts } = await storedParts(400);
    const source = new RecordingSource(parts);
    const stream = concatChunkStreams(store, source, { readAheadBytes: 100, pageSize: 10 });
    const first = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
    expect(first.length).toBeGreaterThan(0);
    stream.destroy();
    const loadsAtDestroy = source.loads.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(source.loads.length).toBe(loadsAtDestroy);
    expect(loadsAtDestroy).toBeLessThan(40);
    expect(source.signals.every((s) => s.aborted)).toBe(true);
  });

  it("an empty source ends at once; an array is served as before", async () => {
    const { store, parts, expected } = await storedParts(5);
    expect((await collect(concatChunkStreams(store, new RecordingSource([]), { readAheadBytes: 100, pageSize: 3 }))).length).toBe(0);
    expect((await collect(concatChunkStreams(store, parts, { readAheadBytes: 100 }))).equals(expected)).toBe(true);
  });

  it("eachPart walks a source page by page and checks each page's length", async () => {
    const { parts } = await storedParts(10);
    const source = new RecordingSource(parts);
    const seen: StoredPart[] = [];
    for await (const part of eachPart(source, 4, new AbortController().signal)) seen.push(part);
    expect(seen).toEqual(parts);
    expect(source.loads).toEqual([{ from: 0, limit: 4 }, { from: 4, limit: 4 }, { from: 8, limit: 2 }]);
    source.shortFrom = 4;
    await expect(async () => {
      for await (const _ of eachPart(source, 4, new AbortController().signal)) void _;
    }).rejects.toThrow(/came back as 3 entries/);
  });
});
