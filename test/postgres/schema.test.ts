import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MIGRATIONS, PRESENT_PATHS_INDEX, type KnexDatabase } from "@attic-ts/sql";
import { openPostgresDatabase } from "@attic-ts/db-postgres";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.ts";

// The schema after all migrations on a real PostgreSQL, introspected from information_schema
// and the catalogs, against Attic's current shape (spec §4.1/§4.2).

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

/** [name, type, NOT NULL, default] per column in table order; "serial" = a sequence default. */
const COLUMNS: Record<string, Array<[string, string, boolean, string | null]>> = {
  cache: [
    ["id", "bigint", true, "serial"], ["name", "varchar(50)", true, null], ["keypair", "varchar", true, null],
    ["is_public", "boolean", true, null], ["store_dir", "varchar", true, null], ["priority", "integer", true, null],
    ["upstream_cache_key_names", "varchar", true, null], ["created_at", "timestamptz", true, null],
    ["deleted_at", "timestamptz", false, null], ["retention_period", "integer", false, null],
  ],
  nar: [
    ["id", "bigint", true, "serial"], ["state", "char(1)", true, null], ["nar_hash", "varchar", true, null],
    ["nar_size", "bigint", true, null], ["compression", "varchar", true, null], ["holders_count", "integer", true, "0"],
    ["created_at", "timestamptz", true, null], ["num_chunks", "integer", true, "1"],
  ],
  object: [
    ["id", "bigint", true, "serial"], ["cache_id", "bigint", true, null], ["nar_id", "bigint", true, null],
    ["store_path_hash", "varchar(32)", true, null], ["store_path", "varchar", true, null], ["references", "varchar", true, null],
    ["system", "varchar", false, null], ["deriver", "varchar", false, null], ["sigs", "varchar", true, null],
    ["ca", "varchar", false, null], ["created_at", "timestamptz", true, null], ["last_accessed_at", "timestamptz", false, null],
    ["created_by", "varchar", false, null],
  ],
  chunk: [
    ["id", "bigint", true, "serial"], ["state", "char(1)", true, null], ["chunk_hash", "varchar", true, null],
    ["chunk_size", "bigint", true, null], ["file_hash", "varchar", false, null], ["file_size", "bigint", false, null],
    ["compression", "varchar", true, null], ["remote_file", "varchar", true, null], ["remote_file_id", "varchar", true, null],
    ["holders_count", "integer", true, "0"], ["created_at", "timestamptz", true, null],
  ],
  chunkref: [
    ["id", "bigint", true, "serial"], ["nar_id", "bigint", true, null], ["seq", "integer", true, null],
    ["chunk_id", "bigint", false, null],
  ],
};

const UDT_NAMES: Record<string, string> = {
  int8: "bigint", int4: "integer", bool: "boolean", varchar: "varchar", bpchar: "char", timestamptz: "timestamptz",
};

type Row = Record<string, unknown>;

describe("PostgreSQL schema after all migrations", () => {
  let created: TestDatabase;
  let db: KnexDatabase;
  const q = async (sql: string, bindings: unknown[] = []): Promise<Row[]> =>
    ((await db.knex.raw(sql, bindings as never)) as { rows: Row[] }).rows;

  beforeAll(async () => {
    created = await createTestDatabase(inject("postgresUrl"), "schema");
    db = await openPostgresDatabase(created.url);
    await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await created?.drop();
  });

  it("has exactly Attic's tables", async () => {
    const tables = (await q("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"))
      .map((r) => r.table_name);
    // Attic's tables, plus attic-ts's own (new tables; on Attic's, one extra index, tested below).
    expect(tables).toEqual([
      "attic_ts_gc_lock", "attic_ts_lease", "attic_ts_lease_hold", "attic_ts_migrations",
      "cache", "chunk", "chunkref", "nar", "object", "seaql_migrations",
    ]);
  });

  it.each(Object.keys(COLUMNS))("table %s has Attic's columns, Postgres types, nullability and defaults", async (table) => {
    const info = await q(
      `SELECT column_name, udt_name, character_maximum_length AS len, is_nullable, column_default
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position`,
      [table],
    );
    const actual = info.map((c) => {
      const base = UDT_NAMES[String(c.udt_name)] ?? String(c.udt_name);
      const type = c.len == null ? base : `${base}(${String(c.len)})`;
      const dflt = c.column_default == null ? null : String(c.column_default).startsWith("nextval(") ? "serial" : String(c.column_default);
      return [c.column_name, type, c.is_nullable === "NO", dflt];
    });
    expect(actual).toEqual(COLUMNS[table]);
    const pk = await q(
      `SELECT kcu.column_name FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
        WHERE tc.table_schema = 'public' AND tc.table_name = ? AND tc.constraint_type = 'PRIMARY KEY'`,
      [table],
    );
    expect(pk.map((r) => r.column_name)).toEqual(["id"]);
  });

  it("has Attic's named indexes on the right columns (idx-chunk-nar-id is on chunkref)", async () => {
    const rows = await q(
      `SELECT i.relname AS name, t.relname AS tbl, ix.indisunique AS uniq,
              array_agg(a.attname::text ORDER BY k.ord) AS cols
         FROM pg_index ix
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
         CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        GROUP BY i.relname, t.relname, ix.indisunique`,
    );
    const attics = rows.filter((r) => !String(r.tbl).startsWith("attic_ts_") && !String(r.name).startsWith("idx-attic-ts-"));
    const actual = Object.fromEntries(attics.filter((r) => String(r.name).startsWith("idx-")).map((r) => [r.name, [r.tbl, r.cols, r.uniq]]));
    expect(actual).toEqual({
      "idx-cache-name": ["cache", ["name"], false],
      "idx-nar-nar-hash": ["nar", ["nar_hash"], false],
      "idx-object-cache-hash": ["object", ["cache_id", "store_path_hash"], true],
      "idx-chunk-chunk-hash": ["chunk", ["chunk_hash"], false],
      "idx-chunk-nar-id": ["chunkref", ["nar_id"], false],
      "idx-chunk-chunk-id": ["chunkref", ["chunk_id"], false],
      "idx-chunk-state-holders": ["chunk", ["state", "holders_count"], false],
      "idx-nar-state-holders": ["nar", ["state", "holders_count"], false],
    });
    // Only these unique indexes besides primary keys (nar's old remote_file_id went with its column).
    const unique = attics
      .filter((r) => r.uniq === true && !String(r.name).endsWith("_pkey"))
      .map((r) => `${String(r.tbl)}(${(r.cols as string[]).join(",")})`)
      .sort();
    expect(unique).toEqual(["cache(name)", "chunk(remote_file_id)", "object(cache_id,store_path_hash)"]);
    // Attic's inline UNIQUE constraints, with Postgres's default names.
    const constraints = await q(
      "SELECT constraint_name FROM information_schema.table_constraints WHERE table_schema = 'public' AND constraint_type = 'UNIQUE' ORDER BY 1",
    );
    expect(constraints.map((r) => r.constraint_name)).toEqual(["cache_name_key", "chunk_remote_file_id_key"]);
  });

  it("adds one index of its own to Attic's tables: object (cache_id, store_path_hash) INCLUDE (nar_id)", async () => {
    const ours = await q(
      `SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename NOT LIKE 'attic\\_ts\\_%' AND indexname LIKE 'idx-attic-ts-%'`,
    );
    expect(ours).toEqual([
      {
        indexname: PRESENT_PATHS_INDEX,
        indexdef: `CREATE INDEX "${PRESENT_PATHS_INDEX}" ON public.object USING btree (cache_id, store_path_hash) INCLUDE (nar_id)`,
      },
    ]);
  });

  it("has the named foreign keys with Attic's ON DELETE rules", async () => {
    const rows = await q(
      `SELECT rc.constraint_name AS name, kcu.table_name AS tbl, kcu.column_name AS col,
              ccu.table_name AS ref_tbl, ccu.column_name AS ref_col, rc.delete_rule
         FROM information_schema.referential_constraints rc
         JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = rc.constraint_name
         JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.constraint_name
        WHERE rc.constraint_schema = 'public' ORDER BY 1`,
    );
    expect(rows.map((r) => `${String(r.name)}: ${String(r.tbl)}.${String(r.col)} -> ${String(r.ref_tbl)}.${String(r.ref_col)} ON DELETE ${String(r.delete_rule)}`)).toEqual([
      "fk_chunkref_chunk: chunkref.chunk_id -> chunk.id ON DELETE SET NULL",
      "fk_chunkref_nar: chunkref.nar_id -> nar.id ON DELETE CASCADE",
      "fk_object_cache: object.cache_id -> cache.id ON DELETE CASCADE",
      "fk_object_nar: object.nar_id -> nar.id ON DELETE CASCADE",
    ]);
  });

  it("records the 15 migration versions in seaql_migrations (version varchar PK, applied_at bigint seconds)", async () => {
    expect(MIGRATIONS.map((m) => m.name)).toEqual(ATTIC_VERSIONS);
    const rows = await q("SELECT version, applied_at FROM seaql_migrations");
    expect(rows.map((r) => r.version).sort()).toEqual([...ATTIC_VERSIONS].sort());
    const now = Date.now() / 1000;
    for (const r of rows) expect(Math.abs(Number(r.applied_at) - now)).toBeLessThan(600);
    const info = await q(
      "SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = 'seaql_migrations' ORDER BY ordinal_position",
    );
    expect(info.map((c) => [c.column_name, c.udt_name])).toEqual([["version", "varchar"], ["applied_at", "int8"]]);
    await db.migrate();
    expect((await q("SELECT COUNT(*) AS n FROM seaql_migrations"))[0]?.n).toBe("15");
  });

  it("cascades a hard cache delete to objects and sets chunkref.chunk_id NULL when a chunk goes", async () => {
    await q(`INSERT INTO cache (name, keypair, is_public, store_dir, priority, upstream_cache_key_names, created_at)
             VALUES ('c', 'k', false, '/nix/store', 41, '[]', now())`);
    const [nar] = await q(`INSERT INTO nar (state, nar_hash, nar_size, compression, created_at) VALUES ('V', 'sha256:00', 1, 'none', now()) RETURNING id`);
    const [chunk] = await q(`INSERT INTO chunk (state, chunk_hash, chunk_size, compression, remote_file, remote_file_id, created_at)
             VALUES ('V', 'sha256:00', 1, 'none', '{}', 'local:x', now()) RETURNING id`);
    await q("INSERT INTO chunkref (nar_id, seq, chunk_id) VALUES (?, 0, ?)", [nar!.id, chunk!.id]);
    await q(`INSERT INTO object (cache_id, nar_id, store_path_hash, store_path, "references", sigs, created_at)
             VALUES ((SELECT id FROM cache WHERE name = 'c'), ?, 'h', '/nix/store/h-x', '[]', '[]', now())`, [nar!.id]);
    const cache = await db.caches.findCache("c");
    expect(await db.caches.destroyCache(cache!.id, { soft: false, now: new Date() })).toBe(true);
    expect((await q("SELECT COUNT(*) AS n FROM object"))[0]?.n).toBe("0");
    await q("DELETE FROM chunk WHERE id = ?", [chunk!.id]);
    expect(await q("SELECT chunk_id FROM chunkref")).toEqual([{ chunk_id: null }]);
    await q("DELETE FROM nar WHERE id = ?", [nar!.id]);
    expect((await q("SELECT COUNT(*) AS n FROM chunkref"))[0]?.n).toBe("0");
  });
});
