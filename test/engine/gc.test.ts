import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  GarbageCollector,
  NARINFO_CACHE,
  UploadSession,
  asyncOf,
  createEngine,
  isAtticError,
  noopLogger,
  remoteFileId,
  remoteFileKey,
  resolve,
  systemClock,
  type BlobStore,
  type Engine,
  type GarbageCollectorOptions,
  type GcReport,
  type RemoteFile,
} from "@attic-ts/core";
import { addFiles, dumpNar, pathInfo, uploadInfoFor } from "../helpers/nix.ts";
import { collect, pseudoRandomBytes } from "../helpers/data.ts";
import {
  builtinPlugins,
  createCache,
  ROOT,
  snapshot,
  startTestEngine,
  TEST_MATRIX,
  type TestDb,
  type TestEngine,
  type TestStorage,
} from "../helpers/engine.ts";
import { s3StorageConfig } from "../helpers/s3.ts";

// Garbage collection on a real engine (SQLite file or PostgreSQL database, local directory or S3
// bucket, real NARs from Nix): Attic's integration step 8 and the cases where attic-ts does
// better than Attic (leases, the collector lock, the storage sweep).

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

async function start(db: TestDb, storage: TestStorage): Promise<TestEngine> {
  t = await startTestEngine({ compression: { type: "none" }, chunking: CHUNKING }, { db, storage });
  return t;
}

/** A report with these counts and zero elsewhere. */
function report(counts: Partial<GcReport>): GcReport {
  return {
    skipped: false, expiredObjects: 0, orphanNars: 0, stalePendingNars: 0, expiredLeases: 0, releasedHolds: 0,
    deletedChunks: 0, deletedBytes: 0, failedDeletions: 0, sweptFiles: 0, sweptBytes: 0, failedSweeps: 0, ...counts,
  };
}

/** Whether storage (directory or bucket) holds a file with that key. */
async function stored(ref: RemoteFile): Promise<boolean> {
  const key = remoteFileKey(ref);
  return (await snapshot(t)).files.some((f) => f.split("/").pop()!.startsWith(`${key}:`));
}

/** The NAR the engine serves for a path, as bytes (following a presigned redirect). */
async function servedNar(cache: string, path: string): Promise<Buffer> {
  const hash = (await uploadInfoFor(cache, path)).store_path_hash;
  const served = await t.engine.binaryCache.nar(ROOT, cache, `${hash}.nar`);
  const body = served.body as { kind: string; stream?: AsyncIterable<Uint8Array>; url?: string };
  if (body.kind === "stream") return collect(body.stream!);
  const res = await fetch(body.url!);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** Asserts the served NAR of `path` hashes to Nix's NarHash. */
async function expectServedIntact(cache: string, path: string): Promise<void> {
  const bytes = await servedNar(cache, path);
  const [info] = await pathInfo([path]);
  expect(`sha256-${createHash("sha256").update(bytes).digest("base64")}`).toBe(info!.narHash);
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
  return new GarbageCollector(t.engine.database, t.engine.storage, t.engine.config, systemClock, noopLogger, options, resolve(t.engine.container, NARINFO_CACHE));
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

describe.each(TEST_MATRIX)("garbage collection (%s, %s)", (db, storage) => {
  it("Attic step 8: retention 1 s, wait 2 s, one run: narinfo gone, no file but VERSION, counts match", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    for (const path of [small, bigA, other]) await push("test", path);
    const before = await snapshot(t);
    const totals = await chunkTotals();
    expect(before.object).toBe(3);
    expect(totals.chunks).toBeGreaterThan(10);
    expect(await narInfoError("test", small)).toBeUndefined();

    // Nothing expires without a retention period (the global default is 0).
    expect(await t.engine.gc.runOnce()).toEqual(report({}));
    expect(await snapshot(t)).toEqual(before);

    await expireSoon("test");
    await sleep(2000);
    expect(await t.engine.gc.runOnce()).toEqual(report({ expiredObjects: 3, orphanNars: 3, deletedChunks: totals.chunks, deletedBytes: totals.bytes }));
    for (const path of [small, bigA, other]) expect(await narInfoError("test", path)).toBe("NoSuchObject");
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
    if (storage === "local") expect(await filesUnder(t.storagePath)).toEqual(["VERSION"]);
  });

  it("keeps chunks shared with a NAR that another cache still references, and that NAR stays whole", async () => {
    await start(db, storage);
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

    const result = await t.engine.gc.runOnce();
    expect(result).toMatchObject({ expiredObjects: 1, orphanNars: 1, failedDeletions: 0 });
    expect(result.deletedChunks).toBeGreaterThan(0);
    // Only bigA's own chunks went: what is left is exactly bigB's chunk list.
    const remaining = Number((await t.inspect("chunk").count({ n: "*" }))[0]!.n);
    expect(remaining).toBe(afterB.chunks - result.deletedChunks);
    const bRefs = (await t.inspect("chunkref").countDistinct({ n: "chunk_id" }))[0]!.n;
    expect(Number(bRefs)).toBe(remaining);
    expect((await snapshot(t)).files).toHaveLength(remaining);

    expect(await narInfoError("short", bigA)).toBe("NoSuchObject");
    await expectServedIntact("kept", bigB);
  });

  it("a chunk whose file cannot be deleted stays D, does not stall the run, and goes on the next run", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    await push("test", other);
    const totals = await chunkTotals();
    expect(totals.chunks).toBeGreaterThan(3);
    const victim = (await t.inspect("chunk").orderBy("id").offset(1).first("id", "remote_file", "file_size")) as {
      id: number;
      remote_file: string;
      file_size: number;
    };
    const victimKey = remoteFileKey(JSON.parse(victim.remote_file) as RemoteFile);
    let store: BlobStore = t.engine.storage;
    let heal: () => Promise<void>;
    if (storage === "local") {
      // A real storage failure (root ignores read-only directories): a non-empty directory where
      // the chunk file should be, so unlink fails with EISDIR.
      const path = chunkPath(victim.remote_file);
      await rename(path, `${path}.saved`);
      await mkdir(path);
      await writeFile(join(path, "blocker"), "x");
      heal = async () => {
        await rm(path, { recursive: true });
        await rename(`${path}.saved`, path);
      };
    } else {
      // The bucket cannot be made to refuse one delete: the store in front of it does, once.
      const real = t.engine.storage;
      store = {
        type: real.type,
        capabilities: real.capabilities,
        refFor: (key) => real.refFor(key),
        put: (key, body, options) => real.put(key, body, options),
        open: (ref, options) => real.open(ref, options),
        list: (options) => real.list!(options),
        delete: async (ref, options) => {
          if (remoteFileKey(ref) === victimKey) throw new Error("injected: the storage refused this delete");
          return real.delete(ref, options);
        },
      };
      heal = async () => {};
    }
    await expireSoon("test");
    await sleep(2000);

    // Batches of one: the cursor must move past the failure to reach the later chunks.
    const first = await new GarbageCollector(t.engine.database, store, t.engine.config, systemClock, noopLogger, { batchSize: 1 }, resolve(t.engine.container, NARINFO_CACHE)).runOnce();
    expect(first).toMatchObject({ expiredObjects: 1, orphanNars: 1, failedDeletions: 1 });
    expect(first.deletedChunks).toBe(totals.chunks - 1);
    expect(first.deletedBytes).toBe(totals.bytes - Number(victim.file_size));
    expect(await rows("chunk", ["id", "state"])).toEqual([{ id: Number(victim.id), state: "D" }]);

    await heal();
    expect(await t.engine.gc.runOnce()).toEqual(report({ deletedChunks: 1, deletedBytes: Number(victim.file_size) }));
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
  });

  it("reclaims rows a crashed upload left pending past the grace period, with their files, and spares fresh ones", async () => {
    await start(db, storage);
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
      return { narId, chunkId, ref };
    }
    const stale = await crashedUpload(new Date(Date.now() - DAY_MS - 60_000));
    const fresh = await crashedUpload(new Date(Date.now() - 60_000));

    expect(await t.engine.gc.runOnce()).toEqual(report({ stalePendingNars: 1, deletedChunks: 1 }));
    expect(await rows("nar", ["id"])).toEqual([{ id: fresh.narId }]);
    expect(await rows("chunk", ["id", "state", "holders_count"])).toEqual([{ id: fresh.chunkId, state: "P", holders_count: 1 }]);
    expect(await stored(stale.ref)).toBe(false);
    expect(await stored(fresh.ref)).toBe(true);

    // With a grace period of one second the fresh pair is a crashed upload's too.
    expect(await collector({ pendingGraceSeconds: 1 }).runOnce()).toMatchObject({ stalePendingNars: 1, deletedChunks: 1 });
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
  });

  it("collects more orphans than one batch in a single run", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    for (const path of [small, bigA, bigB, other]) await push("test", path);
    const totals = await chunkTotals();
    expect(totals.chunks).toBeGreaterThan(20);
    await expireSoon("test");
    await sleep(2000);

    expect(await collector({ batchSize: 3, deleteConcurrency: 2 }).runOnce()).toEqual(
      report({ expiredObjects: 4, orphanNars: 4, deletedChunks: totals.chunks, deletedBytes: totals.bytes }),
    );
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
  });

  it("a dead upload's holds pin nothing once its lease expires (Attic #66); a live lease protects them", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    await push("test", other);
    const totals = await chunkTotals();
    const hashes = (await t.inspect("chunk").pluck("chunk_hash")) as string[];
    const narHash = ((await t.inspect("nar").first("nar_hash")) as { nar_hash: string }).nar_hash;
    // What an upload that was killed mid-way leaves: a lease nobody renews, holding the NAR it
    // deduplicated against, the chunks it found, and a pending NAR and chunk (with its file).
    const leases = t.engine.database.leases;
    const lease = await leases.openLease(new Date(Date.now() + 3000));
    expect(await leases.findAndLockNar(lease, narHash)).not.toBeNull();
    expect((await leases.findAndLockChunks(lease, hashes, "none")).size).toBe(hashes.length);
    await leases.insertPendingNar(lease, {
      state: "P", narHash: `sha256:${"7".repeat(64)}`, narSize: 4000, compression: "none", numChunks: 0, createdAt: new Date(Date.now() - DAY_MS * 2),
    });
    const ref = t.engine.storage.refFor(`${randomUUID()}.chunk`);
    await leases.insertPendingChunks(lease, [
      { chunkHash: `sha256:${"8".repeat(64)}`, chunkSize: 4000, compression: "none", remoteFile: ref, remoteFileId: remoteFileId(ref), createdAt: new Date(Date.now() - DAY_MS * 2) },
    ]);
    await t.engine.storage.put(remoteFileKey(ref), asyncOf(pseudoRandomBytes(80, 4000)));
    await expireSoon("test");
    await sleep(1500);

    // The lease is live: the object expires, but the held NAR, its chunks and the pending rows stay.
    expect(await collector({ pendingGraceSeconds: 0 }).runOnce()).toEqual(report({ expiredObjects: 1 }));
    expect((await snapshot(t)).chunk).toBe(totals.chunks + 1);
    expect(await stored(ref)).toBe(true);

    await sleep(2000); // past the lease's expiry
    expect(await t.engine.gc.runOnce()).toEqual(
      report({ expiredLeases: 1, releasedHolds: 1 + hashes.length + 2, orphanNars: 1, stalePendingNars: 1, deletedChunks: totals.chunks + 1, deletedBytes: totals.bytes }),
    );
    expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
    expect(Number((await t.inspect("attic_ts_lease_hold").count({ n: "*" }))[0]!.n)).toBe(0);
    // The dead upload, had it woken up, would find its lease gone and commit nothing.
    expect(await leases.renewLease(lease, new Date(Date.now() + 3000))).toBe(false);
  });

  it("a finished upload gives back every hold: no lease or hold row and no holders_count remain", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    await push("test", bigA);
    await push("test", bigB); // deduplicates most chunks against bigA
    await push("test", bigA); // deduplicates the whole NAR
    expect((await snapshot(t)).pendingOrHeld).toBe(0);
    expect(Number((await t.inspect("attic_ts_lease").count({ n: "*" }))[0]!.n)).toBe(0);
    expect(Number((await t.inspect("attic_ts_lease_hold").count({ n: "*" }))[0]!.n)).toBe(0);
  });

  it("only one collector runs at a time on one database: a second engine's run is skipped", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    await push("test", small);
    await expireSoon("test");
    await sleep(2000);
    // A second server on the same database and storage, as a replica would be.
    const second: Engine = await createEngine({
      config: {
        database: { url: db === "postgres" ? t.dbPath : `sqlite://${t.dbPath}?mode=rwc` },
        storage: t.s3 ? s3StorageConfig(t.s3.bucket) : { type: "local", path: t.storagePath },
        chunking: CHUNKING,
        compression: { type: "none" },
      },
      plugins: builtinPlugins,
      configSource: "second replica",
      migrate: false,
    });
    try {
      const lock = await t.engine.database.tryAcquireGcLock();
      expect(lock).not.toBeNull();
      expect(await t.engine.database.tryAcquireGcLock()).toBeNull();
      expect(await second.gc.runOnce()).toEqual(report({ skipped: true }));
      expect((await snapshot(t)).object).toBe(1);
      await lock!.release();
      await lock!.release(); // idempotent

      // Both at once: exactly the work of one run is done, whoever does it.
      const both = await Promise.all([t.engine.gc.runOnce(), second.gc.runOnce()]);
      expect(both.reduce((n, r) => n + r.expiredObjects, 0)).toBe(1);
      expect(both.reduce((n, r) => n + r.orphanNars, 0)).toBe(1);
      expect(await snapshot(t)).toEqual({ nar: 0, chunk: 0, chunkref: 0, object: 0, pendingOrHeld: 0, files: [] });
      if (db === "sqlite") {
        // A collector that died left its lock row: once expired, the next collector takes it over.
        await t.inspect("attic_ts_gc_lock").insert({ name: "garbage-collection", owner: "dead", expires_at: new Date(Date.now() + 60_000).toISOString().replace("Z", "+00:00") });
        expect(await second.gc.runOnce()).toEqual(report({ skipped: true }));
        await t.inspect("attic_ts_gc_lock").update({ expires_at: new Date(Date.now() - 1000).toISOString().replace("Z", "+00:00") });
        expect(await second.gc.runOnce()).toEqual(report({}));
      }
    } finally {
      await second.stop();
    }
  });

  it("sweeps storage files no row references once past the grace period, never a referenced or young one", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    await push("test", bigA);
    const before = await snapshot(t);
    // Leftovers of a cleanup that failed half-way: files without rows.
    const orphans = [pseudoRandomBytes(90, 3000), pseudoRandomBytes(91, 5000)];
    const refs = await Promise.all(orphans.map((bytes) => t.engine.storage.put(`${randomUUID()}.chunk`, asyncOf(bytes))));
    // On local storage also the temporary file of a write a killed process never finished,
    // beside the stored files (`.{uuid}.part` in a shard directory).
    const shard = join(t.storagePath, "a", "ab");
    const partial = storage === "local" ? join(shard, `.${randomUUID()}.part`) : undefined;
    if (partial) {
      await mkdir(shard, { recursive: true });
      await writeFile(partial, pseudoRandomBytes(92, 700));
    }
    const leftover = partial ? { files: 1, bytes: 700 } : { files: 0, bytes: 0 };
    await sleep(1100);

    // Young (grace one hour): kept.
    expect(await collector({ orphanFileGraceSeconds: 3600 }).runOnce()).toEqual(report({}));
    for (const ref of refs) expect(await stored(ref)).toBe(true);
    if (partial) expect(existsSync(partial)).toBe(true);

    expect(await collector({ orphanFileGraceSeconds: 1, batchSize: 2 }).runOnce()).toEqual(
      report({ sweptFiles: 2 + leftover.files, sweptBytes: 8000 + leftover.bytes }),
    );
    for (const ref of refs) expect(await stored(ref)).toBe(false);
    if (partial) expect(existsSync(partial)).toBe(false);
    expect(await snapshot(t)).toEqual(before);
    await expectServedIntact("test", bigA);
  });

  it("does not sweep while some chunk rows were stored under other storage settings", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    await push("test", bigA);
    // As if the rows had been written under another region string for the same bucket (or
    // another backend): their ids no longer match what the current settings produce for the
    // very same files. Serving reads `remote_file`, so the NAR is still served.
    await t.inspect("chunk").update({ remote_file_id: t.inspect.raw("? || ??", ["elsewhere:", "remote_file_id"]) });
    const before = await snapshot(t);
    await sleep(1100);
    expect(await collector({ orphanFileGraceSeconds: 0 }).runOnce()).toEqual(report({}));
    expect(await snapshot(t)).toEqual(before);
    await expectServedIntact("test", bigA);
  });

  it("GC running flat out during uploads never deletes a chunk an upload is about to reference", async () => {
    await start(db, storage);
    await createCache(t.engine, "test");
    // Every grace period zero: only holds, leases and the insert-before-write order protect the
    // uploads' rows and files.
    const gc = collector({ pendingGraceSeconds: 0, orphanFileGraceSeconds: 0 });
    let stop = false;
    let runs = 0;
    const loop = (async () => {
      while (!stop) {
        await gc.runOnce();
        runs += 1;
      }
    })();
    try {
      await Promise.all([small, bigA, bigB, other].map((path) => push("test", path)));
      await push("test", bigB);
      await Promise.all([bigA, other].map((path) => push("test", path)));
    } finally {
      stop = true;
      await loop;
    }
    expect(runs).toBeGreaterThan(0);
    for (const path of [small, bigA, bigB, other]) await expectServedIntact("test", path);
    await gc.runOnce();
    for (const path of [small, bigA, bigB, other]) await expectServedIntact("test", path);
    const after = await snapshot(t);
    expect(after.pendingOrHeld).toBe(0);
    expect(after.files).toHaveLength(after.chunk);
  });
});
