import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";
import { NativeCompressor } from "@attic-ts/compression";
import { collect, pseudoRandomBytes, slices } from "../helpers/data.ts";
import { createCache, ROOT, servedNarBytes, snapshot, startTestEngine, TEST_MATRIX, type TestEngine } from "../helpers/engine.ts";

const decoder = new NativeCompressor({ workers: 1 });
afterAll(async () => decoder.close());

let first: string;
let second: string;

beforeAll(async () => {
  // Two NARs that share a 3 MiB file and differ in a small one: chunk-level dedup territory.
  const shared = pseudoRandomBytes(11, 3 * 1024 * 1024);
  first = await addFiles("dedup-v1", { "lib/big.so": shared, "VERSION": "1.0.0\n" });
  second = await addFiles("dedup-v2", { "lib/big.so": shared, "VERSION": "1.0.1 with a longer note\n" });
});

describe.each(TEST_MATRIX)("deduplication (%s, %s)", (db, storage) => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine(
      {
        compression: { type: "zstd" },
        chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
      },
      { db, storage },
    );
    await createCache(t.engine, "alpha");
    await createCache(t.engine, "beta");
  });
  afterAll(async () => t?.close());

  it("stores a second version mostly as references to existing chunks", async () => {
    const r1 = await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("alpha", first), dumpNar(first));
    expect(r1).toMatchObject({ kind: "Uploaded", frac_deduplicated: 0 });
    const afterFirst = await snapshot(t);

    const r2 = await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("alpha", second), dumpNar(second));
    expect(r2.kind).toBe("Uploaded");
    const frac = r2.frac_deduplicated ?? 0;
    expect(frac).toBeGreaterThan(0.9);
    expect(frac).toBeLessThan(1);
    const afterSecond = await snapshot(t);
    // Only the chunks around the differing file are new.
    expect(afterSecond.chunk - afterFirst.chunk).toBeLessThanOrEqual(6);
    expect(afterSecond.nar).toBe(2);
  });

  it("answers Deduplicated for a NAR another cache already holds, after proof of possession", async () => {
    const before = await snapshot(t);
    const r = await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("beta", first), dumpNar(first));
    expect(r).toEqual({ kind: "Deduplicated", frac_deduplicated: null });
    const after = await snapshot(t);
    expect(after.nar).toBe(before.nar);
    expect(after.chunk).toBe(before.chunk);
    expect(after.object).toBe(before.object + 1);
    expect(after.files).toEqual(before.files);
    const info = await t.engine.binaryCache.narInfo(ROOT, "beta", `${(await uploadInfoFor("beta", first)).store_path_hash}.narinfo`);
    expect(info.body).toContain(`StorePath: ${first}`);
  });

  it("re-pushing a path to the same cache keeps one object row", async () => {
    const before = await snapshot(t);
    await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("alpha", first), dumpNar(first));
    expect(await snapshot(t)).toEqual(before);
  });

  it("reports which paths are missing", async () => {
    const have = (await uploadInfoFor("alpha", first)).store_path_hash;
    const absent = "0".repeat(32);
    expect(await t.engine.missingPaths.getMissingPaths(ROOT, "alpha", [have, absent, absent])).toEqual([absent]);
  });
});

describe.each(TEST_MATRIX)("dedup within one NAR when the upload forgets old chunks (%s, %s)", (db, storage) => {
  it("a repeat found in the database again counts and stores the same as one remembered", async () => {
    // R, S, R: the second R is mostly chunks the upload stored before. With seenLimit 1 the
    // upload has forgotten them (memory bound for huge NARs) and must find them in the database.
    const r = pseudoRandomBytes(41, 1024 * 1024);
    const path = await addFiles(`repeat-${db}-${storage}`, { "a.bin": r, "b.bin": pseudoRandomBytes(42, 1024 * 1024), "c.bin": r });
    const nar = await collect(dumpNar(path));
    const outcomes = [];
    for (const seenLimit of [100_000, 1]) {
      const t = await startTestEngine(
        { compression: { type: "zstd" }, chunking: { "nar-size-threshold": 1, "min-size": 4096, "avg-size": 16384, "max-size": 65536 } },
        { db, storage },
      );
      try {
        await createCache(t.engine, "repeat");
        t.engine.uploads.seenLimit = seenLimit;
        const info = await uploadInfoFor("repeat", path);
        const result = await t.engine.uploads.uploadPath(ROOT, info, slices(nar, 65536));
        const state = await snapshot(t);
        expect(state.pendingOrHeld).toBe(0);
        expect(state.files).toHaveLength(state.chunk);
        const served = await t.engine.binaryCache.nar(ROOT, "repeat", `${info.store_path_hash}.nar`);
        const plain = await collect(decoder.decompress("zstd", slices(await servedNarBytes(served.body, false), 65536)));
        expect(plain.equals(nar)).toBe(true);
        outcomes.push({ result, chunks: state.chunk, chunkrefs: state.chunkref });
      } finally {
        await t.close();
      }
    }
    const [remembered, forgotten] = outcomes;
    expect(remembered!.result.kind).toBe("Uploaded");
    expect(remembered!.result.frac_deduplicated).toBeGreaterThan(0.25);
    expect(forgotten).toEqual(remembered);
  });
});

describe.each(TEST_MATRIX)("concurrent pushes of one NAR (%s, %s)", (db, storage) => {
  it.each([
    ["chunked", 1],
    ["whole", 0],
  ] as const)("end with exactly one valid NAR row (%s)", async (_mode, threshold) => {
    const path = await addFiles(`race-${db}-${storage}-${threshold}`, { "data.bin": pseudoRandomBytes(31 + threshold, 700_000) });
    const t = await startTestEngine(
      { chunking: { "nar-size-threshold": threshold, "min-size": 4096, "avg-size": 16384, "max-size": 65536 } },
      { db, storage },
    );
    try {
      await createCache(t.engine, "race");
      const info = await uploadInfoFor("race", path);
      const nar = await collect(dumpNar(path));
      // Every push starts before any commits: none can take the NAR-level dedup shortcut.
      const results = await Promise.all(Array.from({ length: 8 }, () => t.engine.uploads.uploadPath(ROOT, info, slices(nar, 65536))));
      expect(results.filter((r) => r.kind === "Uploaded").length).toBeGreaterThanOrEqual(1);
      const valid = await t.inspect("nar").where({ state: "V" });
      expect(valid).toHaveLength(1);
      const state = await snapshot(t);
      expect(state.nar).toBe(1);
      expect(state.object).toBe(1);
      expect(state.pendingOrHeld).toBe(0);
      // Only the winner's chunks remain: as many files as chunk rows, all referenced.
      expect(state.files).toHaveLength(state.chunk);
      expect(state.chunkref).toBe(valid[0].num_chunks);
      const served = await t.engine.binaryCache.nar(ROOT, "race", `${info.store_path_hash}.nar`);
      // S3 redirects to the one chunk of a whole NAR; everything else is streamed.
      const stored = await servedNarBytes(served.body, storage === "s3" && state.chunk === 1);
      const plain = await collect(decoder.decompress("zstd", slices(stored, 65536)));
      expect(plain.equals(nar)).toBe(true);
    } finally {
      await t.close();
    }
  });
});
