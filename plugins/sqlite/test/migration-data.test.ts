import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { isAtticError } from "@attic-ts/core";
import { MIGRATIONS, appliedMigrations, migrate, sqliteDialect, type KnexDatabase } from "@attic-ts/sql";
import { openSqliteDatabase } from "../src/index.ts";

// Upgrading an Attic database from before chunking (migrations 1-9 applied, one NAR stored as
// one file) through migrations 10 and 11, which move the file to a chunk.

type Row = Record<string, unknown>;
const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-upgrade-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describe("SQLite migrations on existing data", () => {
  let db: KnexDatabase;
  const q = async (sql: string, bindings: unknown[] = []): Promise<Row[]> =>
    (await db.knex.raw(sql, bindings as never)) as Row[];

  beforeEach(async () => {
    db = await openSqliteDatabase(`sqlite://${join(dir, `upgrade-${++n}.db`)}?mode=rwc`);
  });
  afterEach(() => db.close());

  /** The pre-chunking schema with a cache, one stored NAR and an object, as Attic wrote them. */
  async function seedPreChunking(): Promise<void> {
    await migrate(db.knex, sqliteDialect, { migrations: MIGRATIONS.slice(0, 9) });
    expect(await appliedMigrations(db.knex)).toEqual(MIGRATIONS.slice(0, 9).map((m) => m.name));
    // Timestamps in sqlx's SQLite text format (nanoseconds, +00:00).
    await q(`INSERT INTO cache (name, keypair, is_public, store_dir, priority, upstream_cache_key_names, created_at)
             VALUES ('old', 'old:a2V5', 1, '/nix/store', 41, '["cache.nixos.org-1"]', '2023-01-05T10:20:30.123456789+00:00')`);
    await q(`INSERT INTO nar (state, nar_hash, nar_size, file_hash, file_size, compression, remote_file, remote_file_id,
                              holders_count, created_at, num_chunks)
             VALUES ('V', 'sha256:${"a".repeat(64)}', 4096, 'sha256:${"b".repeat(64)}', 1234, 'xz',
                     '{"Local":{"name":"0b9e.nar"}}', 'local:0b9e.nar', 0, '2023-01-06T00:00:00+00:00', 1)`);
    await q(`INSERT INTO object (cache_id, nar_id, store_path_hash, store_path, "references", sigs, created_at)
             VALUES (1, 1, '${"0".repeat(32)}', '/nix/store/${"0".repeat(32)}-x', '[]', '["k:c2ln"]', '2023-01-06T00:00:01.5+00:00')`);
  }

  it("moves each old NAR's file into a chunk with a seq-0 chunkref and drops the old columns", async () => {
    await seedPreChunking();
    await db.migrate();

    expect(await appliedMigrations(db.knex)).toEqual(MIGRATIONS.map((m) => m.name));
    const [chunk] = await q("SELECT * FROM chunk");
    expect(chunk).toEqual({
      id: 1, state: "V", chunk_hash: `sha256:${"a".repeat(64)}`, chunk_size: 4096,
      file_hash: `sha256:${"b".repeat(64)}`, file_size: 1234, compression: "xz",
      remote_file: '{"Local":{"name":"0b9e.nar"}}', remote_file_id: "local:0b9e.nar", holders_count: 0,
      created_at: "2023-01-06T00:00:00+00:00",
    });
    expect(await q("SELECT nar_id, seq, chunk_id FROM chunkref")).toEqual([{ nar_id: 1, seq: 0, chunk_id: 1 }]);
    expect((await q(`PRAGMA table_info("nar")`)).map((c) => c.name)).toEqual([
      "id", "state", "nar_hash", "nar_size", "compression", "num_chunks", "holders_count", "created_at",
    ]);
    expect((await q(`PRAGMA table_info("chunk")`)).map((c) => c.name)).not.toContain("temp_nar_id");
    // The NAR rebuild ran with foreign keys off: the object survived, and they are on again.
    expect((await q("PRAGMA foreign_keys"))[0]?.foreign_keys).toBe(1);
    expect(await q("PRAGMA foreign_key_check")).toEqual([]);

    const found = await db.objects.findObject("old", "0".repeat(32));
    expect(found?.cache.createdAt.toISOString()).toBe("2023-01-05T10:20:30.123Z");
    expect(found?.object).toMatchObject({ sigs: ["k:c2ln"], createdAt: new Date("2023-01-06T00:00:01.500Z") });
    expect(found?.nar).toMatchObject({ id: 1, numChunks: 1, compression: "xz", narSize: 4096 });
    const chunks = await db.nars.findNarChunks(1);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ remoteFile: { Local: { name: "0b9e.nar" } }, fileSize: 1234 });
    expect(await db.nars.narHasMissingChunks(1)).toBe(false);
  });

  it("recognises an up-to-date Attic database and ignores versions it does not know", async () => {
    await db.migrate();
    await q("INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20990101_000001_from_the_future', 1)");
    await db.migrate();
    // applied_at 1 (1970) sorts it first.
    expect(await appliedMigrations(db.knex)).toEqual(["m20990101_000001_from_the_future", ...MIGRATIONS.map((m) => m.name)]);
  });

  it("restores idx-nar-nar-hash, which Attic's SQLite rebuild of nar dropped", async () => {
    await db.migrate();
    await q(`DROP INDEX "idx-nar-nar-hash"`);
    await db.migrate();
    const index = await q(`SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = 'idx-nar-nar-hash'`);
    expect(index).toEqual([{ tbl_name: "nar" }]);
    expect(await appliedMigrations(db.knex)).toHaveLength(MIGRATIONS.length);
  });

  it("rolls back a failing migration with its version row, keeping earlier ones", async () => {
    // A stray `chunk` table makes migration 7 (create chunk) fail.
    await migrate(db.knex, sqliteDialect, { migrations: MIGRATIONS.slice(0, 6) });
    await q("CREATE TABLE chunk (x integer)");
    const err = await db.migrate().catch((e: unknown) => e);
    expect(isAtticError(err) && err.code).toBe("DatabaseError");
    expect((err as Error).message).toContain("m20230112_000001_add_chunk_table");
    expect(await appliedMigrations(db.knex)).toEqual(MIGRATIONS.slice(0, 6).map((m) => m.name));
    expect((await q(`PRAGMA table_info("chunk")`)).map((c) => c.name)).toEqual(["x"]);
  });

  it("stops before the next migration when aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(db.migrate({ signal: controller.signal })).rejects.toThrow("stop");
    expect(await appliedMigrations(db.knex)).toEqual([]);
  });
});
