import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IncompleteNarError, NAR_CHUNK_PAGE, parseNarInfo, type CompressionType } from "@attic-ts/core";
import { NativeCompressor } from "@attic-ts/compression";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";
import { collect, pseudoRandomBytes, slices } from "../helpers/data.ts";
import { createCache, ROOT, servedNarBytes, startTestEngine, TEST_MATRIX, type TestEngine } from "../helpers/engine.ts";

// A NAR of more than two pages of chunks: downloads read its chunk list from the database a
// page at a time while they stream (NAR_CHUNK_PAGE rows), instead of all of it up front. A
// page of 4 KiB chunks holds about 2 MiB, more than a download reads ahead (about 1.3 MiB, in
// groups of chunks on local storage), so after the first piece the last page is still unread.
const tiny = { "nar-size-threshold": 1, "min-size": 1024, "avg-size": 4096, "max-size": 16384 };

let path: string;
const decoder = new NativeCompressor({ workers: 1 });

beforeAll(async () => {
  path = await addFiles("long-nar", { "blob.bin": pseudoRandomBytes(11, 6_500_000) });
});

afterAll(async () => {
  await decoder.close();
});

// Multi-chunk brotli is decompressed part after part (no read-ahead: brotli streams don't
// concatenate, and Attic can't serve them at all), about 45 ms a part on the test gateway, so
// that path runs on local storage only.
const cases = TEST_MATRIX.flatMap(([db, storage]) =>
  (storage === "local" ? (["zstd", "brotli"] as const) : (["zstd"] as const)).map((compression) => [compression, db, storage] as const),
);

describe.each(cases)("a NAR of more than two pages of chunks (%s; %s, %s)", (compression, db, storage) => {
  let t: TestEngine;
  let hash: string;
  let narId: number;
  let numChunks: number;

  beforeAll(async () => {
    t = await startTestEngine({ compression: { type: compression }, chunking: tiny }, { db, storage });
    await createCache(t.engine, "long");
    const info = await uploadInfoFor("long", path);
    hash = info.store_path_hash;
    expect((await t.engine.uploads.uploadPath(ROOT, info, dumpNar(path))).kind).toBe("Uploaded");
    const nar = await t.inspect("object").join("nar", "nar.id", "object.nar_id").where("object.store_path_hash", hash).first("nar.id", "nar.num_chunks");
    narId = Number(nar.id);
    numChunks = Number(nar.num_chunks);
  });
  afterAll(async () => t?.close());

  /** Marks the chunk at `seq` of the NAR not valid, as if it had gone; returns how to undo it. */
  async function breakChunk(seq: number): Promise<() => Promise<void>> {
    const ref = await t.inspect("chunkref").where({ nar_id: narId, seq }).first();
    await t.inspect("chunk").where({ id: ref.chunk_id }).update({ state: "D" });
    return async () => {
      await t.inspect("chunk").where({ id: ref.chunk_id }).update({ state: "V" });
    };
  }

  it("is served byte for byte", async () => {
    expect(numChunks).toBeGreaterThan(2 * NAR_CHUNK_PAGE);
    const narinfo = parseNarInfo((await t.engine.binaryCache.narInfo(ROOT, "long", `${hash}.narinfo`)).body);
    const served = await t.engine.binaryCache.nar(ROOT, "long", `${hash}.nar`);
    const stored = await servedNarBytes(served.body, false);
    const plain = await collect(decoder.decompress(narinfo.compression as CompressionType, slices(stored, 65536)));
    expect(plain.equals(await collect(dumpNar(path)))).toBe(true);
  });

  it("answers IncompleteNar before any byte when a chunk deep in the list is missing", async () => {
    const undo = await breakChunk(numChunks - 3);
    try {
      await expect(t.engine.binaryCache.nar(ROOT, "long", `${hash}.nar`)).rejects.toBeInstanceOf(IncompleteNarError);
    } finally {
      await undo();
    }
  });

  it("fails the stream, never ends it cleanly, when a later chunk goes missing mid-download", async () => {
    const served = await t.engine.binaryCache.nar(ROOT, "long", `${hash}.nar`);
    if (served.body.kind !== "stream") throw new Error("expected a stream");
    const reader = served.body.stream[Symbol.asyncIterator]();
    expect((await reader.next()).done).toBe(false);
    // The first page is loaded by now; the last one is not.
    const undo = await breakChunk(numChunks - 1);
    try {
      await expect(
        (async () => {
          for (let r = await reader.next(); !r.done; r = await reader.next());
        })(),
      ).rejects.toThrow(/incomplete|missing|NAR/i);
    } finally {
      await undo();
    }
  });
});
