import { randomUUID } from "node:crypto";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  GarbageCollector,
  asyncOf,
  isAtticError,
  noopLogger,
  remoteFileId,
  systemClock,
  type GarbageCollectorOptions,
} from "@attic-ts/core";
import { addFiles, dumpNar, pathInfo, uploadInfoFor } from "../helpers/nix.ts";
import { collect, pseudoRandomBytes } from "../helpers/data.ts";
import { createCache, ROOT, snapshot, startTestEngine, TEST_DBS, type TestDb, type TestEngine } from "../helpers/engine.ts";

// Garbage collection on a real engine (SQLite file, local directory, real NARs from Nix):
// Attic's integration step 8 and the cases where attic-ts does better than Attic.

const DAY_MS = 86_400_000;
// Small chunks and no compression: a few hundred KiB become many chunks, and a NAR served from
// several chunks is the plain NAR, so its hash can be checked against Nix's.
const CHUNKING = { "nar-size-threshold": 1, "min-size": 4096, "avg-size": 16384, "max-size": 65536 };

let small: string;
let bigA: string;
let bigB: string;
let other: string;

beforeAll(async () => {
  const shared = pseudoRandomBytes(31, 400_000);
  small = await addFiles("gc-small", { "hello.txt": "hello from the gc test\n" });
  bigA = await addFiles("gc-big-a", { "lib/shared.bin": shared, "only-a.bin": pseudoRandomBytes(32, 120_000) });
  bigB = await addFiles("gc-big-b", { "lib/shared.bin": shared, "only-b.bin": pseudoRandomBytes(33, 120_000) });
  other = await addFiles("gc-other", { "data.bin": pseudoRandomBytes(34, 200_000) });
});

let t: TestEngine;
afterEach(async () => t?.close());

async function start(db: TestDb): Promise<TestEngine> {
  t = await startTestEngine({ compression: { type: "none" }, chunking: CHUNKING }, { db });
  return t;
}

/** Rows with numeric columns as numbers (pg returns bigint columns as strings). */
async function rows(table: string, columns: string[]): Promise<Array<Record<string, unknown>>> {
  const found = (await t.inspect(table).select(columns).orderBy("id")) as Array<Record<string, unknown>>;
  return found.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === "state" ? v : Number(v)])));
}

async function push(cache: string, path: string): Promise<void> {
  const result = await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor(cache, path), dumpNar(path));
  expect(result.kind).not.toBe("Error");
}

/** Attic's `attic cache configure --retention-period 1s`, then waiting past it. */
async function expireSoon(cache: string): Promise<void> {
  await t.engine.caches.configure(ROOT, cache, { retention_period: { Period: 1 } });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collector(options: GarbageCollectorOptions = {}): GarbageCollector {
  return new GarbageCollector(t.engine.database, t.engine.storage, t.engine.config, systemClock, noopLogger, options);
}

async function narInfoError(cache: string, path: string): Promise<string | undefined> {
  const hash = (await uploadInfoFor(cache, path)).store_path_hash;
  try {
    await t.engine.binaryCache.narInfo(ROOT, cache, `${hash}.narinfo`);
    return undefined;
  } catch (err) {
    return isAtticError(err) ? err.code : String(err);
  }
}

/** Stored bytes and count of every chunk row. */
async function chunkTotals(): Promise<{ chunks: number; bytes: number }> {
  const row = (await t.inspect("chunk").count({ n: "*" }).sum({ b: "file_size" }))[0] as { n: number; b: number | null };
  return { chunks: Number(row.n), bytes: Number(row.b ?? 0) };
}

/** Where the local store keeps a chunk file (Attic's sharded layout). */
function chunkPath(remoteFile: string): string {
  const name = (JSON.parse(remoteFile) as { Local: { name: string } }).Local.name;
  return join(t.storagePath, name[0]!, name.slice(0, 2), name);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe.each(TEST_DBS)("garbage collection (%s)", (db) => {
  it("Attic step 8: retention 1 s, wait 2 s, one run: narinfo gone, no file but VERSION, counts match", async () => {
    await start(db);
    await createCache(t.engine, "test");
    for (const path of [small, bigA, other]) await push("test", path);
    const before = await snapshot(t);
    const totals = await chunkTotals();
    expect(before.object).toBe(3);
    expect(totals.chunks).toBeGreaterThan(10);
    expect(await narInfoError("test", small)).toBeUndefined();

    // Nothing expires without a retention period (the global default is 0).
    expect(await t.engine.gc.runOnce()).toEqual({
      expiredObjects: 0, orphanNars: 0, stalePendingNars: 0, deletedChunks: 0, deletedBytes: 0, failedDeletions: 0,
    });
    expect(await snapshot(t)).toEqual(before);

    await expireSoon("test");
    await sleep(2000);
    const report = await t.engine.gc.runOnce();
    expect(report).toEqual({
      expiredObjects: 3,
      orphanNars: 3,
      stalePendingNars: 0,
      deletedChunks: totals.chunks,
      deletedBytes: totals.bytes,
      failedDeletions: 0,
    });
    for (const path of [small, bigA, other]) expect(await narInfoError("test", path)).toBe("NoSuchObject");
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
    expect(await filesUnder(t.storagePath)).toEqual(["VERSION"]);
  });

  it("keeps chunks shared with a NAR that another cache still references, and that NAR stays whole", async () => {
    await start(db);
    await createCache(t.engine, "short");
    await createCache(t.engine, "kept");
    await push("short", bigA);
    const afterA = await chunkTotals();
    await push("kept", bigB);
    const afterB = await chunkTotals();
    // bigB reused most of bigA's chunks.
    expect(afterB.chunks - afterA.chunks).toBeLessThan(afterA.chunks);
    await expireSoon("short");
    await sleep(2000);

    const report = await t.engine.gc.runOnce();
    expect(report).toMatchObject({ expiredObjects: 1, orphanNars: 1, failedDeletions: 0 });
    expect(report.deletedChunks).toBeGreaterThan(0);
    // Only bigA's own chunks went: what is left is exactly bigB's chunk list.
    const remaining = Number((await t.inspect("chunk").count({ n: "*" }))[0]!.n);
    expect(remaining).toBe(afterB.chunks - report.deletedChunks);
    const bRefs = (await t.inspect("chunkref").countDistinct({ n: "chunk_id" }))[0]!.n;
    expect(Number(bRefs)).toBe(remaining);
    expect((await snapshot(t)).files).toHaveLength(remaining);

    expect(await narInfoError("short", bigA)).toBe("NoSuchObject");
    const hash = (await uploadInfoFor("kept", bigB)).store_path_hash;
    const served = await t.engine.binaryCache.nar(ROOT, "kept", `${hash}.nar`);
    if (served.body.kind !== "stream") throw new Error("expected a stream");
    const bytes = await collect(served.body.stream);
    const [info] = await pathInfo([bigB]);
    const { createHash } = await import("node:crypto");
    expect(`sha256-${createHash("sha256").update(bytes).digest("base64")}`).toBe(info!.narHash);
  });

  it("a chunk whose file cannot be deleted stays D, does not stall the run, and goes on the next run", async () => {
    await start(db);
    await createCache(t.engine, "test");
    await push("test", other);
    const totals = await chunkTotals();
    expect(totals.chunks).toBeGreaterThan(3);
    // A real storage failure (root ignores read-only directories): a non-empty directory where
    // the chunk file should be, so unlink fails with EISDIR.
    const victim = (await t.inspect("chunk").orderBy("id").offset(1).first("id", "remote_file", "file_size")) as {
      id: number;
      remote_file: string;
      file_size: number;
    };
    const path = chunkPath(victim.remote_file);
    await rename(path, `${path}.saved`);
    await mkdir(path);
    await writeFile(join(path, "blocker"), "x");
    await expireSoon("test");
    await sleep(2000);

    // Batches of one: the cursor must move past the failure to reach the later chunks.
    const first = await collector({ batchSize: 1 }).runOnce();
    expect(first).toMatchObject({ expiredObjects: 1, orphanNars: 1, failedDeletions: 1 });
    expect(first.deletedChunks).toBe(totals.chunks - 1);
    expect(first.deletedBytes).toBe(totals.bytes - Number(victim.file_size));
    expect(await rows("chunk", ["id", "state"])).toEqual([{ id: Number(victim.id), state: "D" }]);

    await rm(path, { recursive: true });
    await rename(`${path}.saved`, path);
    const second = await t.engine.gc.runOnce();
    expect(second).toEqual({
      expiredObjects: 0, orphanNars: 0, stalePendingNars: 0, deletedChunks: 1, deletedBytes: Number(victim.file_size), failedDeletions: 0,
    });
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
  });

  it("reclaims rows a crashed upload left pending past the grace period, with their files, and spares fresh ones", async () => {
    await start(db);
    const repos = t.engine.database;
    async function crashedUpload(createdAt: Date) {
      const narId = await repos.nars.insertNar({
        state: "P", narHash: `sha256:${randomUUID().replace(/-/g, "").padEnd(64, "0")}`, narSize: 5000,
        compression: "none", numChunks: 1, createdAt,
      });
      const ref = await t.engine.storage.put(`${randomUUID()}.chunk`, asyncOf(pseudoRandomBytes(createdAt.getTime() % 1000, 5000)));
      const chunkId = await repos.chunks.insertPendingChunk({
        chunkHash: `sha256:${randomUUID().replace(/-/g, "").padEnd(64, "1")}`, chunkSize: 5000, compression: "none",
        remoteFile: ref, remoteFileId: remoteFileId(ref), createdAt,
      });
      await repos.nars.insertChunkRefs(narId, [chunkId]);
      return { narId, chunkId, file: chunkPath(JSON.stringify(ref)) };
    }
    const stale = await crashedUpload(new Date(Date.now() - DAY_MS - 60_000));
    const fresh = await crashedUpload(new Date(Date.now() - 60_000));

    const report = await t.engine.gc.runOnce();
    expect(report).toEqual({
      expiredObjects: 0, orphanNars: 0, stalePendingNars: 1, deletedChunks: 1, deletedBytes: 0, failedDeletions: 0,
    });
    expect(await rows("nar", ["id"])).toEqual([{ id: fresh.narId }]);
    expect(await rows("chunk", ["id", "state", "holders_count"])).toEqual([{ id: fresh.chunkId, state: "P", holders_count: 1 }]);
    await expect(stat(stale.file)).rejects.toMatchObject({ code: "ENOENT" });
    expect((await stat(fresh.file)).isFile()).toBe(true);

    // With a grace period of one second the fresh pair is a crashed upload's too.
    expect(await collector({ pendingGraceSeconds: 1 }).runOnce()).toMatchObject({ stalePendingNars: 1, deletedChunks: 1 });
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
  });

  it("collects more orphans than one batch in a single run", async () => {
    await start(db);
    await createCache(t.engine, "test");
    for (const path of [small, bigA, bigB, other]) await push("test", path);
    const totals = await chunkTotals();
    expect(totals.chunks).toBeGreaterThan(20);
    await expireSoon("test");
    await sleep(2000);

    const report = await collector({ batchSize: 3, deleteConcurrency: 2 }).runOnce();
    expect(report).toEqual({
      expiredObjects: 4,
      orphanNars: 4,
      stalePendingNars: 0,
      deletedChunks: totals.chunks,
      deletedBytes: totals.bytes,
      failedDeletions: 0,
    });
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
  });
});
