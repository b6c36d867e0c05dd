import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeCompressor } from "@attic-ts/compression";
import type { UploadPathNarInfo } from "@attic-ts/core";
import { trackedSource } from "@attic-ts/core/testing";
import { collect, pseudoRandomBytes, sha256Hex, slices, uploadInfoOfBytes } from "../helpers/data.ts";
import { createCache, ROOT, servedNarBytes, startTestEngine, type TestEngine } from "../helpers/engine.ts";

// The engine lends every chunk, compressed chunk and body slice of a chunked upload from one
// pool and reuses them as soon as they are stored. A buffer given back while something still
// read it would corrupt another upload's chunk files: many concurrent uploads with small
// chunks (hundreds of batches), irregular body slices and a failing upload among them, then
// every NAR read back byte for byte.
const chunking = { "nar-size-threshold": 1, "min-size": 1024, "avg-size": 4096, "max-size": 16384 };
const decoder = new NativeCompressor({ workers: 1 });
afterAll(() => decoder.close());

let counter = 0;
function infoFor(bytes: Uint8Array): UploadPathNarInfo {
  const hash = `${"0".repeat(26)}${(counter++).toString().padStart(6, "0")}`.replace(/[eotu]/g, "0");
  return uploadInfoOfBytes("reuse", hash, "buffer-reuse", bytes);
}

/** The body in slices of varying lengths (1 byte to 70 KB), as a socket might deliver it. */
async function* unevenly(bytes: Uint8Array, seed: number): AsyncGenerator<Uint8Array> {
  const lengths = [1, 3000, 70_000, 4096, 517, 65_536, 12_345];
  for (let offset = 0, i = seed; offset < bytes.length; i++) {
    const length = lengths[i % lengths.length]!;
    yield bytes.slice(offset, offset + length);
    offset += length;
  }
}

async function* failingAfter(bytes: Uint8Array, limit: number): AsyncGenerator<Uint8Array> {
  for await (const slice of slices(bytes.subarray(0, limit), 8192)) yield slice;
  throw new Error("client went away");
}

describe.each(["zstd", "none"] as const)("chunk buffers reused across concurrent uploads (%s)", (compression) => {
  let t: TestEngine;
  beforeAll(async () => {
    t = await startTestEngine({ compression: { type: compression }, chunking });
    await createCache(t.engine, "reuse");
  });
  afterAll(async () => t?.close());

  it("stores every NAR intact while another upload fails mid-body", async () => {
    const nars = Array.from({ length: 6 }, (_, i) => pseudoRandomBytes(100 + i, 400_000 + i * 37_000));
    const infos = nars.map(infoFor);
    const doomed = pseudoRandomBytes(99, 500_000);
    const results = await Promise.allSettled([
      ...nars.map((bytes, i) => t.engine.uploads.uploadPath(ROOT, infos[i]!, unevenly(bytes, i))),
      t.engine.uploads.uploadPath(ROOT, infoFor(doomed), failingAfter(doomed, 300_000)),
    ]);
    expect(results.slice(0, nars.length).map((r) => r.status)).toEqual(nars.map(() => "fulfilled"));
    expect(results[nars.length]!.status).toBe("rejected");

    // A second round, on buffers the first round gave back.
    const again = Array.from({ length: 4 }, (_, i) => pseudoRandomBytes(200 + i, 300_000));
    const againInfos = again.map(infoFor);
    await Promise.all(again.map((bytes, i) => t.engine.uploads.uploadPath(ROOT, againInfos[i]!, unevenly(bytes, i + 3))));

    for (const [bytes, info] of [...nars.map((b, i) => [b, infos[i]!] as const), ...again.map((b, i) => [b, againInfos[i]!] as const)]) {
      const served = await t.engine.binaryCache.nar(ROOT, "reuse", `${info.store_path_hash}.nar`);
      const stored = await servedNarBytes(served.body, false);
      const plain = await collect(decoder.decompress(compression, slices(stored, 65536)));
      expect(sha256Hex(plain), info.store_path).toBe(sha256Hex(bytes));
    }
    // Every valid chunk file holds what its row says: a buffer reused too early would have
    // changed the bytes after they were hashed.
    const rows = (await t.inspect("chunk").where({ state: "V" }).select("remote_file", "file_hash", "file_size")) as Array<{
      remote_file: string;
      file_hash: string;
      file_size: number;
    }>;
    expect(rows.length).toBeGreaterThan(500);
    for (const row of rows) {
      const name = (JSON.parse(row.remote_file) as { Local: { name: string } }).Local.name;
      const file = await readFile(join(t.storagePath, name[0]!, name.slice(0, 2), name));
      expect(file.length).toBe(Number(row.file_size));
      expect(`sha256:${sha256Hex(file)}`).toBe(row.file_hash);
    }
  });

  it("closes a stalled body when the upload's signal aborts", async () => {
    const stalled = trackedSource([pseudoRandomBytes(7, 100_000)], { stall: true });
    const controller = new AbortController();
    const upload = t.engine.uploads.uploadPath(ROOT, infoFor(pseudoRandomBytes(8, 300_000)), stalled.source, controller.signal);
    setTimeout(() => controller.abort(new Error("client gone")), 200);
    await expect(upload).rejects.toThrow("client gone");
    await new Promise((resolve) => setImmediate(resolve));
    expect(stalled.closed).toBe(true);
  });
});
