import { describe, expect, it } from "vitest";
// Imported by path rather than through the package entry points, so this suite depends only on
// the store and the conformance file, not on everything else those entry points re-export.
import { MemoryBlobStore } from "../../src/storage/memory-blob-store.ts";
import { describeBlobStoreConformance } from "../../src/testing/blob-store-conformance.ts";

describeBlobStoreConformance("MemoryBlobStore", {
  create: async () => new MemoryBlobStore(),
});

describe("MemoryBlobStore", () => {
  it("refuses references of other backends as a storage failure", async () => {
    const store = new MemoryBlobStore();
    const ref = { S3: { region: "us-east-1", bucket: "b", key: "k.chunk" } };
    await expect(store.open(ref)).rejects.toMatchObject({ code: "StorageError" });
    await expect(store.delete(ref)).rejects.toMatchObject({ code: "StorageError" });
  });

  it("keeps its own copy of the written bytes", async () => {
    const store = new MemoryBlobStore();
    const buffer = new Uint8Array([1, 2, 3]);
    const ref = await store.put("reuse.chunk", [buffer] as unknown as AsyncIterable<Uint8Array>);
    buffer.fill(9);
    const download = await store.open(ref);
    if (download.kind !== "stream") throw new Error("expected a stream");
    const parts: Buffer[] = [];
    for await (const chunk of download.stream) parts.push(chunk as Buffer);
    expect([...Buffer.concat(parts)]).toEqual([1, 2, 3]);
  });
});
