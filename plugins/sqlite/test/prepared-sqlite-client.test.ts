import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import { createSqliteKnex, createSqliteReadKnex, parseSqliteUrl } from "../src/index.ts";
import { STATEMENTS_PER_CONNECTION } from "../src/prepared-sqlite-client.ts";

// The writer's knex on a real SQLite file, with the statement cache under test.

const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-prepared-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let file: string;
let knex: Knex;
let prepared: string[];

beforeEach(async () => {
  file = join(dir, `db-${++n}.sqlite`);
  knex = createSqliteKnex(parseSqliteUrl(`sqlite://${file}?mode=rwc`));
  await knex.schema.createTable("t", (t) => {
    t.increments("id");
    t.string("name").notNullable().unique();
  });
  // Count what the one connection prepares.
  type Prepare = (sql: string, callback: (err: Error | null) => void) => unknown;
  const connection = (await knex.client.acquireConnection()) as { prepare: Prepare };
  const prepare = connection.prepare.bind(connection);
  prepared = [];
  connection.prepare = (sql, callback) => {
    prepared.push(sql);
    return prepare(sql, callback);
  };
  await knex.client.releaseConnection(connection);
});
afterEach(async () => knex.destroy());

describe("PreparedSqliteClient", () => {
  it("prepares a statement once per connection and reuses it with other bindings", async () => {
    for (let i = 0; i < 5; i++) await knex("t").insert({ name: `n${i}` });
    for (let i = 0; i < 5; i++) expect(await knex("t").where({ name: `n${i}` }).first("id")).toEqual({ id: i + 1 });
    expect(prepared).toHaveLength(2);
  });

  it("returns what knex's own client returns: ids, counts, rows", async () => {
    expect(await knex("t").insert({ name: "a" })).toEqual([1]);
    expect(await knex("t").insert({ name: "b" }).returning(["id", "name"])).toEqual([{ id: 2, name: "b" }]);
    expect(await knex("t").where({ name: "a" }).update({ name: "c" })).toBe(1);
    expect(await knex("t").where("id", ">", 0).update({ name: knex.raw("name || '!'") }).returning("name")).toEqual([{ name: "c!" }, { name: "b!" }]);
    expect(await knex("t").where({ name: "nobody" }).del()).toBe(0);
    // knex's SQLite client reports a delete's count even with RETURNING.
    expect(await knex("t").where({ name: "b!" }).del().returning("id")).toBe(1);
    expect(await knex.transaction(async (trx) => trx("t").count({ n: "*" }))).toEqual([{ n: 1 }]);
  });

  it("keeps at most STATEMENTS_PER_CONNECTION statements, dropping the least recently used", async () => {
    const sql = (i: number) => `select ${i} as x`;
    for (let i = 0; i <= STATEMENTS_PER_CONNECTION; i++) expect(await knex.raw(sql(i))).toEqual([{ x: i }]);
    expect(prepared).toHaveLength(STATEMENTS_PER_CONNECTION + 1);
    await knex.raw(sql(STATEMENTS_PER_CONNECTION)); // kept
    expect(prepared).toHaveLength(STATEMENTS_PER_CONNECTION + 1);
    await knex.raw(sql(0)); // evicted by the last new one, so prepared again
    expect(prepared).toHaveLength(STATEMENTS_PER_CONNECTION + 2);
  });

  it("rejects failing statements with SQLite's error and runs the same SQL again afterwards", async () => {
    await knex("t").insert({ name: "a" });
    await expect(knex("t").insert({ name: "a" })).rejects.toMatchObject({ code: "SQLITE_CONSTRAINT" });
    expect(await knex("t").insert({ name: "b" })).toEqual([2]);
    await expect(knex.raw("select * from missing_table")).rejects.toThrow(/no such table/);
    await knex.schema.createTable("missing_table", (t) => t.integer("x"));
    expect(await knex.raw("select * from missing_table")).toEqual([]);
  });

  it("commits after an EXPLAIN of a write (run once, not kept: kept, it blocked the next COMMIT)", async () => {
    await knex.raw("EXPLAIN QUERY PLAN insert into t (name) values (?)", ["x"]);
    await knex.transaction(async (trx) => {
      await trx("t").insert({ name: "in a transaction" });
    });
    expect(await knex("t").pluck("name")).toEqual(["in a transaction"]);
    expect(prepared.some((sql) => sql.startsWith("EXPLAIN"))).toBe(false);
  });

  it("rolls back and commits transactions on kept statements", async () => {
    await expect(
      knex.transaction(async (trx) => {
        await trx("t").insert({ name: "gone" });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    await knex.transaction(async (trx) => trx("t").insert({ name: "kept" }));
    expect(await knex("t").pluck("name")).toEqual(["kept"]);
  });

  it("begins top-level transactions IMMEDIATE on one kept statement; nested ones use savepoints", async () => {
    const seen: string[] = [];
    knex.on("query", (q: { sql: string }) => seen.push(q.sql));
    for (let i = 0; i < 3; i++) {
      await knex.transaction(async (trx) => {
        await trx("t").insert({ name: `outer${i}` });
        await trx.transaction(async (inner) => inner("t").insert({ name: `inner${i}` }));
      });
    }
    expect(seen.filter((sql) => /^begin/i.test(sql))).toEqual(["BEGIN IMMEDIATE;", "BEGIN IMMEDIATE;", "BEGIN IMMEDIATE;"]);
    expect(seen.filter((sql) => /^savepoint/i.test(sql))).toHaveLength(3);
    expect(prepared.filter((sql) => /^begin/i.test(sql))).toEqual(["BEGIN IMMEDIATE;"]);
    expect(await knex("t").count({ n: "*" })).toEqual([{ n: 6 }]);
  });

  it("begins a read connection's transactions deferred (query_only refuses BEGIN IMMEDIATE)", async () => {
    await knex("t").insert({ name: "a" });
    const reader = createSqliteReadKnex(parseSqliteUrl(`sqlite://${file}?mode=rw`), 1)!;
    try {
      expect(await reader.transaction(async (trx) => trx("t").pluck("name"))).toEqual(["a"]);
    } finally {
      await reader.destroy();
    }
  });

  describe("holds no read snapshot between statements, so another connection's commit fails no write", () => {
    let other: Knex;
    beforeEach(() => {
      other = createSqliteKnex(parseSqliteUrl(`sqlite://${file}?mode=rw`));
    });
    afterEach(async () => other.destroy());

    it("after a kept SELECT that ran to the end", async () => {
      await knex("t").insert({ name: "a" });
      expect(await knex("t").pluck("name")).toEqual(["a"]);
      await other("t").insert({ name: "b" });
      await knex("t").where({ name: "a" }).update({ name: "c" });
      expect(await knex("t").orderBy("id").pluck("name")).toEqual(["c", "b"]);
    });

    it("after a kept statement failed with SQLITE_BUSY (SQLite leaves it active until reset)", async () => {
      await knex.raw("PRAGMA busy_timeout = 50");
      const holder = await other.transaction();
      try {
        await holder("t").insert({ name: "held" });
        await expect(knex("t").insert({ name: "a" })).rejects.toMatchObject({ code: "SQLITE_BUSY" });
      } finally {
        await holder.commit();
      }
      // While the failed INSERT stayed active, the next statement's read transaction stayed
      // open after it, and once `other` committed, every write here failed at once.
      await knex("t").pluck("name");
      await other("t").insert({ name: "b" });
      await knex("t").where({ name: "held" }).update({ name: "c" });
      expect(await knex("t").orderBy("id").pluck("name")).toEqual(["c", "b"]);
    });
  });

  it("closes with statements kept, and the data is there when reopened", async () => {
    await knex("t").insert({ name: "durable" });
    await knex.destroy();
    knex = createSqliteKnex(parseSqliteUrl(`sqlite://${file}?mode=rw`));
    expect(await knex("t").pluck("name")).toEqual(["durable"]);
  });
});
