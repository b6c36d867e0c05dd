import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import knexFactory from "knex";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { KnexDatabase } from "@attic-ts/sql";
import { openSqliteDatabase, READ_CONNECTIONS } from "../src/index.ts";
import { rowBuilders } from "./rows.ts";

const { unique, cacheRow, objectRow, narRow: narRowWith } = rowBuilders(new Date());
const narRow = () => narRowWith({ narSize: 1, compression: "none" });
/** A valid 32-character nix-base32 store path hash, distinct per (i, salt). */
const storePathHash = (i: number, salt = 0) => `${i.toString(32).padStart(8, "0")}${salt.toString(32).padStart(24, "0")}`.replace(/[eotu]/g, "x");

const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-read-pool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const opened: KnexDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()));
});

async function open(url = `sqlite://${join(dir, `db-${++n}.sqlite`)}?mode=rwc`): Promise<KnexDatabase> {
  const db = await openSqliteDatabase(url);
  opened.push(db);
  await db.migrate();
  return db;
}

/** Counts the statements each knex instance runs. */
function countQueries(knex: Knex): { count: number; sql: string[] } {
  const seen = { count: 0, sql: [] as string[] };
  knex.on("query", (q: { sql: string }) => {
    seen.count++;
    seen.sql.push(q.sql);
  });
  return seen;
}

describe("SQLite read pool", () => {
  it("runs the request-path lookups on the read connections and every write on the writer", async () => {
    const db = await open();
    expect(db.readKnex).not.toBe(db.knex);
    const reads = countQueries(db.readKnex);
    const writes = countQueries(db.knex);

    const name = unique("cache");
    expect(await db.caches.insertCache(cacheRow(name))).toBe(true);
    const cache = (await db.caches.findCache(name))!;
    const narId = await db.nars.insertNar(narRow());
    await db.objects.upsertObject(objectRow(cache.id, narId, storePathHash(1)));
    await db.objects.findCacheObject(name, storePathHash(1));
    await db.objects.findObject(name, storePathHash(1));
    await db.objects.findPresentPaths(name, [storePathHash(1), storePathHash(2)]);
    await db.nars.findNarChunks(narId);

    expect(writes.sql.every((sql) => !/^select/i.test(sql))).toBe(true);
    expect(writes.count).toBe(3);
    // findPresentPaths is two statements (the cache id, then the lookup).
    expect(reads.count).toBe(6);
    expect(reads.sql.every((sql) => /^select/i.test(sql))).toBe(true);
  });

  it("keeps lookups inside a transaction on the transaction's connection", async () => {
    const db = await open();
    const reads = countQueries(db.readKnex);
    const name = unique("cache");
    const seenInside = await db.transaction(async (tx) => {
      await tx.caches.insertCache(cacheRow(name));
      const inside = await tx.caches.findCache(name);
      // Not committed yet: the read connections do not see it.
      const outside = await db.caches.findCache(name);
      return { inside: inside !== null, outside: outside !== null };
    });
    expect(seenInside).toEqual({ inside: true, outside: false });
    expect(await db.caches.findCache(name)).not.toBeNull();
    expect(reads.count).toBe(2);
  });

  it("sees every write as soon as it has resolved (read-your-writes), with reads in flight meanwhile", async () => {
    const db = await open();
    const narId = await db.nars.insertNar(narRow());
    let stop = false;
    // Background readers keep the read connections busy (and their snapshots turning over).
    const background = (async () => {
      let rounds = 0;
      while (!stop) {
        await Promise.all(Array.from({ length: READ_CONNECTIONS + 1 }, () => db.caches.findCache("bg-none")));
        rounds++;
      }
      return rounds;
    })();
    try {
      for (let i = 0; i < 150; i++) {
        const name = `ryw-${i}`;
        await db.caches.insertCache(cacheRow(name));
        const cache = await db.caches.findCache(name);
        expect(cache?.name).toBe(name);
        await db.objects.upsertObject(objectRow(cache!.id, narId, storePathHash(i, 3)));
        expect((await db.objects.findCacheObject(name, storePathHash(i, 3)))?.found?.object.storePathHash).toBe(storePathHash(i, 3));
        expect(await db.objects.findPresentPaths(name, [storePathHash(i, 3)])).toEqual([storePathHash(i, 3)]);
        await db.caches.updateCache(cache!.id, { priority: i });
        expect((await db.caches.findCache(name))?.priority).toBe(i);
        await db.transaction(async (tx) => tx.caches.destroyCache(cache!.id, { soft: true, now: new Date() }));
        expect(await db.caches.findCache(name)).toBeNull();
        expect(await db.objects.findCacheObject(name, storePathHash(i, 3))).toBeNull();
      }
    } finally {
      stop = true;
    }
    expect(await background).toBeGreaterThan(0);
  });

  it("runs lookups concurrently on several read connections while the writer holds a transaction", async () => {
    const db = await open();
    const name = unique("cache");
    await db.caches.insertCache(cacheRow(name));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inside = new Promise<void>((resolve) => (started = resolve));
    const writer = db.transaction(async (tx) => {
      await tx.caches.insertCache(cacheRow(unique("pending")));
      started();
      await held;
    });
    // The writer connection is taken from here on.
    await inside;
    // With one shared connection these would wait for the transaction to end.
    const found = await Promise.race([
      Promise.all([
        ...Array.from({ length: READ_CONNECTIONS * 2 }, () => db.caches.findCache(name)),
        ...Array.from({ length: READ_CONNECTIONS * 2 }, () => db.objects.findCacheObject(name, storePathHash(7))),
      ]),
      new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5000)),
    ]);
    release();
    await writer;
    expect(found).not.toBe("timeout");
    expect((found as unknown[]).every((c) => c !== null)).toBe(true);
  });

  it("read connections refuse writes (query_only)", async () => {
    const db = await open();
    await expect(db.readKnex.raw("CREATE TABLE x (a INTEGER)")).rejects.toThrow(/readonly|read-only|query_only/i);
  });

  it("has no read pool on an in-memory database (one database per connection)", async () => {
    const db = await open("sqlite::memory:");
    expect(db.readKnex).toBe(db.knex);
    const name = unique("cache");
    await db.caches.insertCache(cacheRow(name));
    expect(await db.caches.findCache(name)).not.toBeNull();
  });

  it("drops the read pool when the database is not in WAL mode (opened read-only in rollback-journal mode)", async () => {
    const file = join(dir, "rollback.sqlite");
    const setup = knexFactory({ client: "sqlite3", connection: { filename: file }, useNullAsDefault: true });
    await setup.raw("PRAGMA journal_mode = DELETE");
    await setup.raw("CREATE TABLE t (a INTEGER)");
    await setup.destroy();
    const db = await openSqliteDatabase(`sqlite://${file}?mode=ro`);
    opened.push(db);
    expect(db.readKnex).toBe(db.knex);
  });
});
