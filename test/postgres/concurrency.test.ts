import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { NewChunk, NewNar } from "@attic-ts/core";
import type { KnexDatabase } from "@attic-ts/sql";
import { openPostgresDatabase } from "@attic-ts/db-postgres";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.ts";

// Attic's find-and-lock on a real server with a real pool: concurrent callers on separate
// connections, row locks with SKIP LOCKED, and no lost `holders_count` increments.

const CALLERS = 20;

function hash(): string {
  return `sha256:${randomBytes(32).toString("hex")}`;
}

function nar(narHash = hash()): NewNar {
  return { state: "V", narHash, narSize: 1000, compression: "zstd", numChunks: 1, createdAt: new Date() };
}

function chunk(chunkHash = hash()): NewChunk {
  const name = `${randomBytes(8).toString("hex")}.chunk`;
  return { chunkHash, chunkSize: 100, compression: "zstd", remoteFile: { Local: { name } }, remoteFileId: `local:${name}`, createdAt: new Date() };
}

describe("PostgreSQL find-and-lock under concurrency", () => {
  let created: TestDatabase;
  let db: KnexDatabase;
  const sql: string[] = [];

  beforeAll(async () => {
    created = await createTestDatabase(inject("postgresUrl"), "concurrency");
    db = await openPostgresDatabase(created.url, { poolMax: CALLERS + 2 });
    await db.migrate();
    db.knex.on("query", (q: { sql: string }) => sql.push(q.sql));
  });
  afterAll(async () => {
    await db?.close();
    await created?.drop();
  });

  const holders = async (table: string, id: number): Promise<number> =>
    Number((await db.knex(table).where({ id }).first("holders_count"))!.holders_count);

  it("runs the callers on separate pooled connections", async () => {
    const pids = await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        const rows = (await db.knex.raw("SELECT pg_backend_pid() AS pid, pg_sleep(0.05)")) as { rows: Array<{ pid: number }> };
        return rows.rows[0]!.pid;
      }),
    );
    expect(new Set(pids).size).toBeGreaterThan(1);
  });

  it(`${CALLERS} concurrent findAndLockNar calls: every non-null result is one increment`, async () => {
    const row = nar();
    const id = await db.nars.insertNar(row);
    sql.length = 0;
    const results = await Promise.all(Array.from({ length: CALLERS }, () => db.nars.findAndLockNar(row.narHash)));
    const found = results.filter((r) => r !== null);
    expect(found.length).toBeGreaterThan(0);
    expect(await holders("nar", id)).toBe(found.length);
    // Each caller saw its own increment.
    expect(found.map((r) => r.holdersCount).sort((a, b) => a - b)).toEqual(Array.from({ length: found.length }, (_, i) => i + 1));
    expect(sql.some((s) => /for update skip locked/i.test(s))).toBe(true);
  });

  it(`${CALLERS} concurrent findAndLockChunks calls: each chunk's count is the number of calls that got it`, async () => {
    const chunks = Array.from({ length: 5 }, () => chunk());
    const ids = await db.chunks.insertPendingChunks(chunks);
    await db.chunks.markChunksValid(ids.map((id, i) => ({ id, fileHash: hash(), fileSize: 10 + i })));
    await db.chunks.releaseChunks(ids); // inserted held once; back to 0
    const hashes = chunks.map((c) => c.chunkHash);
    const results = await Promise.all(Array.from({ length: CALLERS }, () => db.chunks.findAndLockChunks(hashes, "zstd")));
    for (const [i, c] of chunks.entries()) {
      const got = results.filter((m) => m.has(c.chunkHash)).map((m) => m.get(c.chunkHash)!);
      expect(got.length).toBeGreaterThan(0);
      expect(await holders("chunk", ids[i]!)).toBe(got.length);
      expect(got.map((r) => r.holdersCount).sort((a, b) => a - b)).toEqual(Array.from({ length: got.length }, (_, k) => k + 1));
      expect(got[0]).toMatchObject({ id: ids[i], fileSize: 10 + i, state: "V" });
    }
  });

  it("concurrent locks and releases balance out", async () => {
    const row = nar();
    const id = await db.nars.insertNar(row);
    const locked = (await Promise.all(Array.from({ length: CALLERS }, () => db.nars.findAndLockNar(row.narHash)))).filter(Boolean).length;
    const again = await Promise.all([
      ...Array.from({ length: locked }, () => db.nars.releaseNar(id).then(() => 0)),
      ...Array.from({ length: CALLERS }, () => db.nars.findAndLockNar(row.narHash).then((r) => (r ? 1 : 0))),
    ]);
    const lockedAgain = again.reduce<number>((a, b) => a + b, 0);
    expect(await holders("nar", id)).toBe(lockedAgain);
  });

  it("skips a row another transaction holds locked instead of waiting (SKIP LOCKED)", async () => {
    const row = nar();
    const id = await db.nars.insertNar(row);
    const trx = await db.knex.transaction();
    try {
      await trx("nar").where({ id }).forUpdate().first("id");
      const started = Date.now();
      expect(await db.nars.findAndLockNar(row.narHash)).toBeNull();
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await trx.rollback();
    }
    expect((await db.nars.findAndLockNar(row.narHash))?.holdersCount).toBe(1);
  });
});
