import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
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
import { openPostgresDatabase, postgresPlugin } from "@attic-ts/db-postgres";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.ts";

// The plugin's lifecycle and Attic's URL forms against the run's real server.

function boot(config: Record<string, unknown>): { lifecycle: Lifecycle; db: KnexDatabase } {
  const container = createRootContainer();
  const lifecycle = new Lifecycle();
  const parsed = postgresPlugin.configSchema.parse(config);
  postgresPlugin.register(container, parsed, { logger: noopLogger, lifecycle, engineConfig: {} as EngineConfig });
  return { lifecycle, db: resolve(container, DATABASE) as KnexDatabase };
}

describe("postgresPlugin on a real server", () => {
  let created: TestDatabase;
  let socketDir: string;
  let port: string;

  beforeAll(async () => {
    created = await createTestDatabase(inject("postgresUrl"), "plugin");
    const db = await openPostgresDatabase(created.url);
    const show = async (name: string) => String(((await db.knex.raw(`SHOW ${name}`)) as { rows: Array<Record<string, unknown>> }).rows[0]![name]);
    socketDir = (await show("unix_socket_directories")).split(",")[0]!.trim();
    port = await show("port");
    await db.close();
  });
  afterAll(async () => {
    await created?.drop();
  });

  it("binds DATABASE, connects at start (not at register), does not migrate, closes at stop", async () => {
    const { lifecycle, db } = boot({ url: created.url, heartbeat: true, "pool-max": 2 });
    expect(db.kind).toBe("postgres");
    await lifecycle.start();
    expect(await db.knex.schema.hasTable("cache")).toBe(false);
    await db.migrate();
    expect(await db.knex.schema.hasTable("cache")).toBe(true);
    expect((db.knex.client as { pool: { max: number } }).pool.max).toBe(2);
    await lifecycle.stop();
    await expect(db.knex.raw("SELECT 1")).rejects.toThrow();
  });

  it("connects through the socket directory: postgresql:///db?host=/dir", async () => {
    const url = `postgresql:///${created.name}?host=${encodeURIComponent(socketDir)}&port=${port}&user=postgres`;
    const { lifecycle, db } = boot({ url });
    await lifecycle.start();
    const rows = (await db.knex.raw("SELECT current_database() AS db, inet_server_addr() AS addr")) as { rows: Array<Record<string, unknown>> };
    // A Unix-socket session has no server address.
    expect(rows.rows[0]).toEqual({ db: created.name, addr: null });
    await lifecycle.stop();
  });

  it("accepts the percent-encoded socket directory as host, and the postgres:// scheme", async () => {
    const url = `postgres://postgres@${encodeURIComponent(socketDir)}:${port}/${created.name}`;
    const db = await openPostgresDatabase(url);
    const rows = (await db.knex.raw("SELECT current_database() AS db")) as { rows: Array<Record<string, unknown>> };
    expect(rows.rows[0]?.db).toBe(created.name);
    await db.close();
  });

  it("fails at start with a DatabaseError naming the URL (password redacted) when nothing listens", async () => {
    const { lifecycle } = boot({ url: "postgres://u:hunter2@127.0.0.1:1/none", "connect-timeout": "2s" });
    const err = await lifecycle.start().catch((e: unknown) => e);
    expect(isAtticError(err) && err.code).toBe("DatabaseError");
    expect((err as Error).message).toContain("127.0.0.1:1");
    expect((err as Error).message).not.toContain("hunter2");
    await lifecycle.stop();
  });

  it("fails at start for a database that does not exist", async () => {
    const { lifecycle } = boot({ url: `${created.url}_missing` });
    const err = await lifecycle.start().catch((e: unknown) => e);
    expect(isAtticError(err) && err.code).toBe("DatabaseError");
    expect((err as Error).message).toMatch(/does not exist/);
    await lifecycle.stop();
  });
});
