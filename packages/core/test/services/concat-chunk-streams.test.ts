import { describe, expect, it } from "vitest";
import { concatChunkStreams } from "../../src/services/concat-chunk-streams.ts";
import { MemoryBlobStore } from "../../src/storage/memory-blob-store.ts";
import { asyncOf } from "../../src/util/async-of.ts";

async function storeParts(store: MemoryBlobStore, parts: Uint8Array[]) {
  return Promise.all(parts.map((bytes, i) => store.put(`part-${i}.chunk`, asyncOf(bytes))));
}

describe("concatChunkStreams", () => {
  it("concatenates the files in order", async () => {
    const store = new MemoryBlobStore();
    const parts = [Buffer.from("one "), Buffer.from("two "), Buffer.from("three")];
    const refs = await storeParts(store, parts);
    const out: Buffer[] = [];
    for await (const piece of concatChunkStreams(store, refs, 2)) out.push(Buffer.from(piece as Uint8Array));
    expect(Buffer.concat(out).toString()).toBe("one two three");
  });
});
