import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KnexDatabase } from "@attic-ts/sql";
import { MIGRATIONS } from "@attic-ts/sql";
import { openSqliteDatabase } from "../src/index.ts";

// The schema after all migrations, introspected from sqlite_master and the PRAGMAs, against
// Attic's current shape (spec §4.1/§4.2).

const ATTIC_VERSIONS = [
  "m20221227_000001_create_cache_table",
  "m20221227_000003_create_nar_table",
  "m20221227_000002_create_object_table",
  "m20221227_000004_add_object_last_accessed",
  "m20221227_000005_add_cache_retention_period",
  "m20230103_000001_add_object_created_by",
  "m20230112_000001_add_chunk_table",
  "m20230112_000002_add_chunkref_table",
  "m20230112_000003_add_nar_num_chunks",
  "m20230112_000004_migrate_nar_remote_files_to_chunks",
  "m20230112_000005_drop_old_nar_columns",
  "m20230112_000006_add_nar_completeness_hint",
  "m20260508_000001_add_chunk_state_holders_index",
  "m20260611_000001_add_nar_state_holders_index",
  "m20260624_000001_remove_chunk_recovery",
];

/** [name, notNull, default] per column, in table order. */
const COLUMNS: Record<string, Array<[string, boolean, string | null]>> = {
  cache: [
    ["id", true, null], ["name", true, null], ["keypair", true, null], ["is_public", true, null],
    ["store_dir", true, null], ["priority", true, null], ["upstream_cache_key_names", true, null],
    ["created_at", true, null], ["deleted_at", false, null], ["retention_period", false, null],
  ],
  nar: [
    ["id", true, null], ["state", true, null], ["nar_hash", true, null], ["nar_size", true, null],
    ["compression", true, null], ["num_chunks", true, "1"], ["holders_count", true, "0"], ["created_at", true, null],
  ],
  object: [
    ["id", true, null], ["cache_id", true, null], ["nar_id", true, null], ["store_path_hash", true, null],
    ["store_path", true, null], ["references", true, null], ["system", false, null], ["deriver", false, null],
    ["sigs", true, null], ["ca", false, null], ["created_at", true, null], ["last_accessed_at", false, null],
    ["created_by", false, null],
  ],
  chunk: [
    ["id", true, null], ["state", true, null], ["chunk_hash", true, null], ["chunk_size", true, null],
    ["file_hash", false, null], ["file_size", false, null], ["compression", true, null], ["remote_file", true, null],
    ["remote_file_id", true, null], ["holders_count", true, "0"], ["created_at", true, null],
  ],
  chunkref: [["id", true, null], ["nar_id", true, null], ["seq", true, null], ["chunk_id", false, null]],
};

type Row = Record<string, unknown>;

describe("SQLite schema after all migrations", () => {
  const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-schema-"));
  let db: KnexDatabase;
  const q = async (sql: string, bindings: unknown[] = []): Promise<Row[]> =>
    (await db.knex.raw(sql, bindings as never)) as Row[];

  beforeAll(async () => {
    db = await openSqliteDatabase(`sqlite://${join(dir, "schema.db")}?mode=rwc`);
    await db.migrate();
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("has exactly Attic's tables", async () => {
    const tables = (await q("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"))
      .map((r) => r.name);
    // Attic's tables, plus attic-ts's own (new tables only; Attic's are untouched).
    expect(tables).toEqual([
      "attic_ts_gc_lock", "attic_ts_lease", "attic_ts_lease_hold", "attic_ts_migrations",
      "cache", "chunk", "chunkref", "nar", "object", "seaql_migrations",
    ]);
  });

  it.each(Object.keys(COLUMNS))("table %s has Attic's columns, nullability and defaults", async (table) => {
    const info = await q(`PRAGMA table_info("${table}")`);
    const actual = info.map((c) => [c.name, c.notnull === 1 || c.pk === 1, c.dflt_value == null ? null : String(c.dflt_value).replace(/'/g, "")]);
    expect(actual).toEqual(COLUMNS[table]);
    const id = info.find((c) => c.name === "id");
    // INTEGER PRIMARY KEY: the rowid alias that AUTOINCREMENT needs.
    expect([id?.pk, String(id?.type).toLowerCase()]).toEqual([1, "integer"]);
  });

  it("uses SQLite types with the right affinity (timestamps are TEXT, JSON columns are strings)", async () => {
    const types = Object.fromEntries((await q(`PRAGMA table_info("object")`)).map((c) => [c.name, String(c.type).toLowerCase()]));
    expect(types.created_at).toContain("text");
    expect(types.references).toBe("varchar");
    expect(types.store_path_hash).toBe("varchar(32)");
    const cache = Object.fromEntries((await q(`PRAGMA table_info("cache")`)).map((c) => [c.name, String(c.type).toLowerCase()]));
    expect(cache).toMatchObject({ name: "varchar(50)", is_public: "boolean", priority: "integer", retention_period: "integer" });
  });

  it("has Attic's named indexes on the right columns", async () => {
    const indexes = await q(
      "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx-%' AND tbl_name NOT LIKE 'attic_ts_%' ORDER BY name",
    );
    const columnsOf = async (name: string): Promise<unknown[]> => (await q(`PRAGMA index_info("${name}")`)).map((r) => r.name);
    const actual: Record<string, [unknown, unknown[]]> = {};
    for (const i of indexes) actual[String(i.name)] = [i.tbl_name, await columnsOf(String(i.name))];
    expect(actual).toEqual({
      "idx-cache-name": ["cache", ["name"]],
      "idx-nar-nar-hash": ["nar", ["nar_hash"]],
      "idx-object-cache-hash": ["object", ["cache_id", "store_path_hash"]],
      "idx-chunk-chunk-hash": ["chunk", ["chunk_hash"]],
      "idx-chunk-nar-id": ["chunkref", ["nar_id"]],
      "idx-chunk-chunk-id": ["chunkref", ["chunk_id"]],
      "idx-chunk-state-holders": ["chunk", ["state", "holders_count"]],
      "idx-nar-state-holders": ["nar", ["state", "holders_count"]],
    });
  });

  it("enforces uniqueness of cache.name, chunk.remote_file_id and (cache_id, store_path_hash)", async () => {
    const unique = new Set<string>();
    for (const table of ["cache", "chunk", "object", "nar", "chunkref"]) {
      for (const index of await q(`PRAGMA index_list("${table}")`)) {
        if (index.unique !== 1 || index.origin === "pk") continue;
        const cols = (await q(`PRAGMA index_info("${String(index.name)}")`)).map((r) => r.name);
        unique.add(`${table}(${cols.join(",")})`);
      }
    }
    expect([...unique].sort()).toEqual(["cache(name)", "chunk(remote_file_id)", "object(cache_id,store_path_hash)"]);
  });

  it("has the named foreign keys with Attic's ON DELETE rules", async () => {
    const fks: string[] = [];
    for (const table of ["object", "chunkref", "cache", "nar", "chunk"]) {
      for (const fk of await q(`PRAGMA foreign_key_list("${table}")`)) {
        fks.push(`${table}.${String(fk.from)} -> ${String(fk.table)}.${String(fk.to)} ON DELETE ${String(fk.on_delete)}`);
      }
    }
    expect(fks.sort()).toEqual([
      "chunkref.chunk_id -> chunk.id ON DELETE SET NULL",
      "chunkref.nar_id -> nar.id ON DELETE CASCADE",
      "object.cache_id -> cache.id ON DELETE CASCADE",
      "object.nar_id -> nar.id ON DELETE CASCADE",
    ]);
    const sql = (name: string) => q("SELECT sql FROM sqlite_master WHERE name = ?", [name]).then((r) => String(r[0]?.sql));
    expect(await sql("object")).toMatch(/constraint `fk_object_cache` foreign key/i);
    expect(await sql("object")).toMatch(/constraint `fk_object_nar` foreign key/i);
    expect(await sql("chunkref")).toMatch(/constraint `fk_chunkref_chunk` foreign key/i);
    expect(await sql("chunkref")).toMatch(/constraint `fk_chunkref_nar` foreign key/i);
  });

  it("records all 15 versions in seaql_migrations, in Attic's order, with unix-second applied_at", async () => {
    const rows = await q("SELECT version, applied_at FROM seaql_migrations ORDER BY rowid");
    expect(rows.map((r) => r.version)).toEqual(ATTIC_VERSIONS);
    expect(MIGRATIONS.map((m) => m.name)).toEqual(ATTIC_VERSIONS);
    const now = Math.floor(Date.now() / 1000);
    for (const r of rows) expect(Math.abs(Number(r.applied_at) - now)).toBeLessThan(600);
    const info = await q(`PRAGMA table_info("seaql_migrations")`);
    expect(info.map((c) => [c.name, c.pk])).toEqual([["version", 1], ["applied_at", 0]]);
  });

  it("leaves foreign keys on and cascades a hard cache delete to objects", async () => {
    expect((await q("PRAGMA foreign_keys"))[0]?.foreign_keys).toBe(1);
    await q(`INSERT INTO cache (name, keypair, is_public, store_dir, priority, upstream_cache_key_names, created_at)
             VALUES ('c', 'k', 0, '/nix/store', 41, '[]', '2024-01-01T00:00:00.000+00:00')`);
    await q(`INSERT INTO nar (state, nar_hash, nar_size, compression, created_at) VALUES ('V', 'sha256:00', 1, 'none', '2024-01-01T00:00:00.000+00:00')`);
    await q(`INSERT INTO object (cache_id, nar_id, store_path_hash, store_path, "references", sigs, created_at)
             VALUES ((SELECT id FROM cache WHERE name = 'c'), (SELECT id FROM nar), 'h', '/nix/store/h-x', '[]', '[]', '2024-01-01T00:00:00.000+00:00')`);
    const cache = await db.caches.findCache("c");
    expect(await db.caches.destroyCache(cache!.id, { soft: false, now: new Date() })).toBe(true);
    expect((await q("SELECT COUNT(*) AS n FROM object"))[0]?.n).toBe(0);
  });
});
