import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DATABASE,
  Lifecycle,
  createRootContainer,
  isAtticError,
  noopLogger,
  resolve,
  type EngineConfig,
} from "@attic-ts/core";
import type { KnexDatabase } from "@attic-ts/sql";
import defaultExport, { openSqliteDatabase, sqlitePlugin } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-plugin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function boot(url: string): { lifecycle: Lifecycle; db: KnexDatabase } {
  const container = createRootContainer();
  const lifecycle = new Lifecycle();
  const config = sqlitePlugin.configSchema.parse({ url });
  sqlitePlugin.register(container, config, { logger: noopLogger, lifecycle, engineConfig: {} as EngineConfig });
  return { lifecycle, db: resolve(container, DATABASE) as KnexDatabase };
}

describe("sqlitePlugin", () => {
  it("describes a database plugin for sqlite: URLs, also as the default export", () => {
    expect(defaultExport).toBe(sqlitePlugin);
    expect(sqlitePlugin).toMatchObject({ kind: "database", type: "sqlite", urlSchemes: ["sqlite"] });
  });

  it("binds DATABASE, creates the file with mode=rwc at start, does not migrate, closes at stop", async () => {
    const file = join(dir, "created.db");
    const { lifecycle, db } = boot(`sqlite://${file}?mode=rwc`);
    expect(db.kind).toBe("sqlite");
    expect(existsSync(file)).toBe(false); // nothing opened at register time
    await lifecycle.start();
    expect(existsSync(file)).toBe(true);
    expect(await db.knex.schema.hasTable("cache")).toBe(false);
    await db.migrate();
    expect(await db.knex.schema.hasTable("cache")).toBe(true);
    await lifecycle.stop();
    await expect(db.knex.raw("SELECT 1")).rejects.toThrow();
  });

  it("sets the connection pragmas (WAL, synchronous=normal, temp_store=memory, foreign keys, busy timeout; mmap on readers)", async () => {
    const db = await openSqliteDatabase(`sqlite://${join(dir, "pragmas.db")}?mode=rwc`);
    try {
      const pragma = async (name: string): Promise<unknown> =>
        Object.values(((await db.knex.raw(`PRAGMA ${name}`)) as Array<Record<string, unknown>>)[0] ?? {})[0];
      expect(await pragma("journal_mode")).toBe("wal");
      expect(await pragma("synchronous")).toBe(1);
      expect(await pragma("temp_store")).toBe(2);
      expect(await pragma("foreign_keys")).toBe(1);
      expect(await pragma("busy_timeout")).toBe(5000);
      // Reads are memory-mapped on the read connections only (Attic's 30 GB, capped by
      // SQLite; 0 means off), so the writer's pages do not count in an upload's RSS.
      expect(Number(await pragma("mmap_size"))).toBe(0);
      const read = async (name: string): Promise<unknown> =>
        Object.values(((await db.readKnex.raw(`PRAGMA ${name}`)) as Array<Record<string, unknown>>)[0] ?? {})[0];
      expect(db.readKnex).not.toBe(db.knex);
      expect(Number(await read("mmap_size"))).toBeGreaterThan(0);
      expect(await read("query_only")).toBe(1);
    } finally {
      await db.close();
    }
  });

  it("fails at start with a ConfigError when the file is missing and mode=rwc is absent", async () => {
    const file = join(dir, "missing.db");
    const { lifecycle } = boot(`sqlite://${file}`);
    const err = await lifecycle.start().catch((e: unknown) => e);
    expect(isAtticError(err) && err.code).toBe("ConfigError");
    expect((err as Error).message).toContain("mode=rwc");
    expect(existsSync(file)).toBe(false);
    await lifecycle.stop();
  });

  it("opens an existing file without mode=rwc, and read-only with mode=ro", async () => {
    const file = join(dir, "existing.db");
    const rw = await openSqliteDatabase(`sqlite://${file}?mode=rwc`);
    await rw.migrate();
    await rw.close();

    const again = await openSqliteDatabase(`sqlite:${file}`);
    await again.migrate(); // already current
    expect(await again.caches.findCache("x")).toBeNull();
    await again.close();

    const ro = await openSqliteDatabase(`sqlite://${file}?mode=ro`);
    try {
      expect(await ro.caches.findCache("x")).toBeNull();
      const err = await ro.caches
        .insertCache({
          name: "x", keypair: "k", isPublic: false, storeDir: "/nix/store", priority: 41,
          upstreamCacheKeyNames: [], createdAt: new Date(), retentionPeriod: null,
        })
        .catch((e: unknown) => e);
      expect(isAtticError(err) && err.code).toBe("DatabaseError");
      expect((err as Error).cause).toBeInstanceOf(Error);
    } finally {
      await ro.close();
    }
  });

  it("reports a file that is not a database as a DatabaseError", async () => {
    const file = join(dir, "garbage.db");
    writeFileSync(file, "this is not a database, just text long enough to have a header ".repeat(4));
    const err = await openSqliteDatabase(`sqlite://${file}`)
      .then(async (db) => {
        try {
          await db.migrate();
        } finally {
          await db.close();
        }
      })
      .catch((e: unknown) => e);
    expect(isAtticError(err) && err.code).toBe("DatabaseError");
  });
});
