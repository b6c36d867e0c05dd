import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KnexDatabase } from "@attic-ts/sql";
import { openSqliteDatabase } from "../src/index.ts";
import { rowBuilders } from "./rows.ts";

// Every GC query against a real SQLite file, one fresh database per case: the queries are
// global (they see every row), so each case owns the whole database.

const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-gc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const DAY = 86_400_000;
const ago = (ms: number) => new Date(NOW - ms);

const { unique, sha256, cacheRow, narRow, chunkRow, objectRow } = rowBuilders(new Date(NOW - 100 * DAY));
/** 32 nix-base32 characters, distinct per `i`. */
const storePathHash = (i: number) => i.toString(32).replace(/[eotu]/g, "x").padStart(32, "0");

let db: KnexDatabase;
beforeEach(async () => {
  db = await openSqliteDatabase(`sqlite://${join(dir, `gc-${++n}.sqlite`)}?mode=rwc`);
  await db.migrate();
});
afterEach(async () => db.close());

async function ids(table: string, where: Record<string, unknown> = {}): Promise<number[]> {
  return ((await db.knex(table).where(where).orderBy("id").pluck("id")) as unknown[]).map(Number);
}

async function cacheWith(retentionPeriod: number | null): Promise<number> {
  const name = unique("c");
  await db.caches.insertCache(cacheRow(name, { retentionPeriod }));
  return (await db.caches.findCache(name))!.id;
}

let pathN = 0;
async function object(cacheId: number, narId: number, createdAt: Date, lastAccessedAt?: Date): Promise<number> {
  const hash = storePathHash(++pathN);
  await db.objects.upsertObject(objectRow(cacheId, narId, hash, { createdAt }));
  const id = (await db.knex("object").where({ cache_id: cacheId, store_path_hash: hash }).first("id")) as { id: number };
  if (lastAccessedAt) await db.objects.touchObject(id.id, lastAccessedAt);
  return Number(id.id);
}

/** A chunk in the given state with the given holders and age. */
async function chunk(state: "V" | "P", holders: number, createdAt: Date): Promise<number> {
  const id = await db.chunks.insertPendingChunk(chunkRow({ createdAt }));
  if (state === "V") await db.chunks.markChunkValid(id, { fileHash: "sha256:" + "ab".repeat(32), fileSize: 10 * id });
  await db.knex("chunk").where({ id }).update({ holders_count: holders });
  return id;
}

describe("GcRepository on SQLite", () => {
  it("cachesWithRetention: per-cache value, 0 disables, NULL takes the global default, soft-deleted included", async () => {
    const unset = await cacheWith(null);
    const hour = await cacheWith(3600);
    await cacheWith(0);
    const gone = await cacheWith(60);
    expect(await db.caches.destroyCache(gone, { soft: true, now: new Date(NOW) })).toBe(true);

    expect(await db.gc.cachesWithRetention(0)).toEqual([
      { cacheId: hour, retentionSeconds: 3600 },
      { cacheId: gone, retentionSeconds: 60 },
    ]);
    expect(await db.gc.cachesWithRetention(100)).toEqual([
      { cacheId: unset, retentionSeconds: 100 },
      { cacheId: hour, retentionSeconds: 3600 },
      { cacheId: gone, retentionSeconds: 60 },
    ]);
  });

  it("expireObjects: only old objects of that cache not accessed since the cutoff", async () => {
    const cache = await cacheWith(null);
    const other = await cacheWith(null);
    const nar = await db.nars.insertNar(narRow());
    const cutoff = ago(DAY);
    const oldNeverRead = await object(cache, nar, ago(10 * DAY));
    const oldReadRecently = await object(cache, nar, ago(10 * DAY), ago(3_600_000));
    const oldReadLongAgo = await object(cache, nar, ago(10 * DAY), ago(5 * DAY));
    const young = await object(cache, nar, ago(3_600_000));
    const exactlyAtCutoff = await object(cache, nar, cutoff);
    const otherCache = await object(other, nar, ago(10 * DAY));

    expect(await db.gc.expireObjects(cache, cutoff)).toBe(2);
    expect(await ids("object")).toEqual([oldReadRecently, young, exactlyAtCutoff, otherCache]);
    expect(await ids("object")).not.toContain(oldNeverRead);
    expect(await ids("object")).not.toContain(oldReadLongAgo);
    expect(await db.gc.expireObjects(cache, cutoff)).toBe(0);
  });

  it("deleteOrphanNars: valid, unheld and unreferenced only, in batches, cascading to chunkrefs", async () => {
    const cache = await cacheWith(null);
    const referenced = await db.nars.insertNar(narRow());
    await object(cache, referenced, ago(DAY));
    const orphans = [await db.nars.insertNar(narRow()), await db.nars.insertNar(narRow()), await db.nars.insertNar(narRow())];
    const held = await db.nars.insertNar(narRow());
    await db.knex("nar").where({ id: held }).update({ holders_count: 1 });
    const pending = await db.nars.insertNar(narRow({ state: "P", createdAt: ago(10 * DAY) }));
    const c = await chunk("V", 0, ago(DAY));
    await db.nars.insertChunkRefs(orphans[0]!, [c, c]);
    await db.nars.insertChunkRefs(referenced, [c]);

    expect(await db.gc.deleteOrphanNars(2)).toBe(2);
    expect(await db.gc.deleteOrphanNars(2)).toBe(1);
    expect(await db.gc.deleteOrphanNars(2)).toBe(0);
    expect(await ids("nar")).toEqual([referenced, held, pending]);
    expect(await db.knex("chunkref").pluck("nar_id")).toEqual([referenced]);
  });

  it("deleteStalePendingNars: pending NARs older than the cutoff only", async () => {
    const stale = await db.nars.insertNar(narRow({ state: "P", createdAt: ago(2 * DAY) }));
    const fresh = await db.nars.insertNar(narRow({ state: "P", createdAt: ago(3_600_000) }));
    const oldValid = await db.nars.insertNar(narRow({ state: "V", createdAt: ago(10 * DAY) }));
    const c = await chunk("P", 1, ago(2 * DAY));
    await db.nars.insertChunkRefs(stale, [c]);

    expect(await db.gc.deleteStalePendingNars(ago(DAY), 10)).toBe(1);
    expect(await ids("nar")).toEqual([fresh, oldValid]);
    expect(await db.knex("chunkref").count({ n: "*" })).toEqual([{ n: 0 }]);
    // The chunk row itself stays: it is the chunk level's business.
    expect(await ids("chunk")).toEqual([c]);
  });

  it("markOrphanChunksDeleted: unreferenced valid unheld chunks, and pending ones past the grace period whatever their holders", async () => {
    const nar = await db.nars.insertNar(narRow());
    const referenced = await chunk("V", 0, ago(10 * DAY));
    await db.nars.insertChunkRefs(nar, [referenced]);
    const orphan = await chunk("V", 0, ago(3_600_000));
    const held = await chunk("V", 2, ago(10 * DAY));
    const crashed = await chunk("P", 1, ago(2 * DAY));
    const uploading = await chunk("P", 1, ago(3_600_000));
    const pendingReferenced = await chunk("P", 1, ago(2 * DAY));
    await db.nars.insertChunkRefs(nar, [pendingReferenced]);

    expect(await db.gc.markOrphanChunksDeleted(ago(DAY), 1)).toBe(1);
    expect(await db.gc.markOrphanChunksDeleted(ago(DAY), 10)).toBe(1);
    expect(await db.gc.markOrphanChunksDeleted(ago(DAY), 10)).toBe(0);
    expect(await ids("chunk", { state: "D" })).toEqual([orphan, crashed]);
    expect(await ids("chunk", { state: "V" })).toEqual([referenced, held]);
    expect(await ids("chunk", { state: "P" })).toEqual([uploading, pendingReferenced]);
  });

  it("chunksToDelete pages through D chunks by id; deleteChunkRows deletes only D rows, past the variable limit", async () => {
    const count = 1200;
    const created = await db.chunks.insertPendingChunks(Array.from({ length: count }, () => chunkRow({ createdAt: ago(DAY) })));
    const keep = created.slice(0, 5);
    const marked = created.slice(5);
    await db.knex("chunk").whereIn("id", marked.slice(0, 400)).update({ state: "D" });
    await db.knex("chunk").whereIn("id", marked.slice(400)).update({ state: "D" });

    const first = await db.gc.chunksToDelete(3);
    expect(first.map((c) => c.id)).toEqual(marked.slice(0, 3));
    expect(first[0]).toMatchObject({ state: "D", remoteFile: { Local: { name: expect.stringMatching(/\.chunk$/) } } });
    expect((await db.gc.chunksToDelete(3, marked[2])).map((c) => c.id)).toEqual(marked.slice(3, 6));
    expect(await db.gc.chunksToDelete(3, created[created.length - 1])).toEqual([]);

    expect(await db.gc.deleteChunkRows(created)).toBe(marked.length);
    expect(await ids("chunk")).toEqual(keep);
    expect(await db.gc.deleteChunkRows([])).toBe(0);
  });
});
