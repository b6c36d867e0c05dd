import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import { KnexDatabase, sqliteDialect } from "@attic-ts/sql";
import { createSqliteKnex, parseSqliteUrl } from "../src/index.ts";
import { rowBuilders } from "./rows.ts";

// The statements of the upload and download paths, captured as they run and then planned with
// EXPLAIN QUERY PLAN: none may walk a table or pick the (state, holders_count) index, whose
// `state = 'V'` matches nearly every row. SQLite plans without statistics and, offered that
// index beside the index on the hash being looked up, took it: every find-and-lock then read
// all valid rows (4.4 ms for 16 hashes among 19,200 chunks, growing with the cache). Timing
// would not catch this on a small test database; the plan does.

const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-plans-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { unique, sha256, cacheRow, narRow, chunkRow, objectRow } = rowBuilders(new Date(Date.UTC(2025, 0, 1)));
const storePathHash = (i: number) => i.toString(32).replace(/[eotu]/g, "x").padStart(32, "0");

/** A plan line that reads a table of the cache's size, or nearly all of one. */
const BAD_PLAN = /^SCAN (chunk|nar|object|chunkref)\b|INDEX idx-(chunk|nar)-state-holders/;

interface Captured {
  sql: string;
  bindings: readonly unknown[];
}

let knex: Knex;
let db: KnexDatabase;
const captured: Captured[] = [];

async function planOf(statement: Captured): Promise<string[]> {
  const rows = (await knex.raw(`EXPLAIN QUERY PLAN ${statement.sql}`, statement.bindings as Knex.RawBinding[])) as Array<{ detail: string }>;
  return rows.map((r) => r.detail);
}

/** Runs `fn` and returns every statement it sent, with its plan. */
async function plansOf(fn: () => Promise<unknown>): Promise<Array<{ sql: string; plan: string[] }>> {
  captured.length = 0;
  await fn();
  const statements = captured.splice(0).filter((s) => !/^(begin|commit|rollback|savepoint|release)/i.test(s.sql.trim()));
  expect(statements.length).toBeGreaterThan(0);
  return Promise.all(statements.map(async (s) => ({ sql: s.sql, plan: await planOf(s) })));
}

function expectIndexedPlans(plans: Array<{ sql: string; plan: string[] }>): void {
  for (const { sql, plan } of plans) {
    const bad = plan.filter((line) => BAD_PLAN.test(line));
    expect(bad, `${sql}\n${plan.join("\n")}`).toEqual([]);
  }
}

let cacheName: string;
let narHash: string;
let narId: number;
let chunkHashes: string[];

beforeAll(async () => {
  // Only the writer, so every statement (lookups included) passes through one `query` listener.
  knex = createSqliteKnex(parseSqliteUrl(`sqlite://${join(dir, "plans.sqlite")}?mode=rwc`));
  db = new KnexDatabase(knex, sqliteDialect);
  await db.migrate();
  cacheName = unique("cache");
  await db.caches.insertCache(cacheRow(cacheName));
  const cache = (await db.caches.findCache(cacheName))!;
  const chunks = Array.from({ length: 40 }, () => chunkRow({ compression: "none" }));
  chunkHashes = chunks.map((c) => c.chunkHash);
  const ids = await db.chunks.insertPendingChunks(chunks);
  await db.chunks.markChunksValid(ids.map((id) => ({ id, fileHash: sha256(), fileSize: 100 })));
  const nar = narRow({ numChunks: ids.length, compression: "none" });
  narHash = nar.narHash;
  narId = await db.nars.insertNar(nar);
  await db.nars.insertChunkRefs(narId, ids);
  for (let i = 0; i < 20; i++) {
    const other = await db.nars.insertNar(narRow());
    await db.objects.upsertObject(objectRow(cache.id, other, storePathHash(i + 1)));
  }
  await db.objects.upsertObject(objectRow(cache.id, narId, storePathHash(0)));
  knex.on("query", (q: { sql: string; bindings?: unknown[] }) => captured.push({ sql: q.sql, bindings: q.bindings ?? [] }));
});
afterAll(async () => db?.close());

describe("SQLite query plans of the hot paths use the hash and key indexes", () => {
  it("find-and-lock of chunks, one and many, under a lease", async () => {
    const lease = await db.leases.openLease(new Date(Date.now() + 60_000));
    expectIndexedPlans(await plansOf(() => db.leases.findAndLockChunks(lease, chunkHashes.slice(0, 16), "none")));
    expectIndexedPlans(await plansOf(() => db.leases.findAndLockChunk(lease, chunkHashes[20]!, "none")));
    expectIndexedPlans(await plansOf(() => db.chunks.findAndLockChunks([sha256(), chunkHashes[3]!], "none")));
    await db.leases.closeLease(lease);
  });

  it("find-and-lock of a NAR, and the commit's claim of its hash", async () => {
    const lease = await db.leases.openLease(new Date(Date.now() + 60_000));
    expectIndexedPlans(await plansOf(() => db.leases.findAndLockNar(lease, narHash)));
    expectIndexedPlans(await plansOf(() => db.transaction((tx) => tx.nars.claimNarHash(narHash))));
    await db.leases.closeLease(lease);
  });

  it("narinfo, NAR and missing-paths lookups", async () => {
    expectIndexedPlans(await plansOf(() => db.objects.findCacheObject(cacheName, storePathHash(0))));
    expectIndexedPlans(await plansOf(() => db.objects.findCacheObjects(cacheName, [storePathHash(0), storePathHash(5), storePathHash(99)])));
    expectIndexedPlans(await plansOf(() => db.objects.findObject(cacheName, storePathHash(0))));
    expectIndexedPlans(await plansOf(() => db.nars.findNarChunks(narId, { from: 0, limit: 16 })));
    expectIndexedPlans(await plansOf(() => db.nars.narHasMissingChunks(narId)));
    expectIndexedPlans(await plansOf(() => db.objects.findPresentPaths(cacheName, [storePathHash(0), storePathHash(99)])));
  });

  it("flags the plan it guards against (a lookup by state alone)", async () => {
    const plans = await plansOf(() => knex("chunk").select("id").where({ state: "V" }).limit(1));
    expect(plans.flatMap((p) => p.plan).some((line) => BAD_PLAN.test(line))).toBe(true);
  });
});
