import type { Knex } from "knex";
import { DatabaseError } from "@attic-ts/core";
import type { Dialect } from "../dialect.ts";
import type { Migration } from "./migration.ts";
import { m20221227_000001_create_cache_table } from "./m20221227_000001_create_cache_table.ts";
import { m20221227_000003_create_nar_table } from "./m20221227_000003_create_nar_table.ts";
import { m20221227_000002_create_object_table } from "./m20221227_000002_create_object_table.ts";
import { m20221227_000004_add_object_last_accessed } from "./m20221227_000004_add_object_last_accessed.ts";
import { m20221227_000005_add_cache_retention_period } from "./m20221227_000005_add_cache_retention_period.ts";
import { m20230103_000001_add_object_created_by } from "./m20230103_000001_add_object_created_by.ts";
import { m20230112_000001_add_chunk_table } from "./m20230112_000001_add_chunk_table.ts";
import { m20230112_000002_add_chunkref_table } from "./m20230112_000002_add_chunkref_table.ts";
import { m20230112_000003_add_nar_num_chunks } from "./m20230112_000003_add_nar_num_chunks.ts";
import { m20230112_000004_migrate_nar_remote_files_to_chunks } from "./m20230112_000004_migrate_nar_remote_files_to_chunks.ts";
import { m20230112_000005_drop_old_nar_columns } from "./m20230112_000005_drop_old_nar_columns.ts";
import { m20230112_000006_add_nar_completeness_hint } from "./m20230112_000006_add_nar_completeness_hint.ts";
import { m20260508_000001_add_chunk_state_holders_index } from "./m20260508_000001_add_chunk_state_holders_index.ts";
import { m20260611_000001_add_nar_state_holders_index } from "./m20260611_000001_add_nar_state_holders_index.ts";
import { m20260624_000001_remove_chunk_recovery } from "./m20260624_000001_remove_chunk_recovery.ts";
import { attic_ts_m20261125_000001_leases_and_gc_lock } from "./attic_ts_m20261125_000001_leases_and_gc_lock.ts";
import { attic_ts_m20261205_000001_object_present_paths_index } from "./attic_ts_m20261205_000001_object_present_paths_index.ts";

export type { Migration, MigrationContext } from "./migration.ts";

/** Attic's migrations in Attic's order (note 000003 before 000002 on 2022-12-27). */
export const MIGRATIONS: readonly Migration[] = [
  m20221227_000001_create_cache_table,
  m20221227_000003_create_nar_table,
  m20221227_000002_create_object_table,
  m20221227_000004_add_object_last_accessed,
  m20221227_000005_add_cache_retention_period,
  m20230103_000001_add_object_created_by,
  m20230112_000001_add_chunk_table,
  m20230112_000002_add_chunkref_table,
  m20230112_000003_add_nar_num_chunks,
  m20230112_000004_migrate_nar_remote_files_to_chunks,
  m20230112_000005_drop_old_nar_columns,
  m20230112_000006_add_nar_completeness_hint,
  m20260508_000001_add_chunk_state_holders_index,
  m20260611_000001_add_nar_state_holders_index,
  m20260624_000001_remove_chunk_recovery,
];

/** sea-orm-migration's bookkeeping table, so an existing Attic database is recognised. */
export const MIGRATIONS_TABLE = "seaql_migrations";

/**
 * attic-ts's own schema additions (new tables, and one index on Attic's `object` table; Attic's
 * columns, constraints and indexes are never altered), applied after Attic's. They are
 * recorded in `attic_ts_migrations`, not `seaql_migrations`: Attic's migrator refuses to start
 * on a database that lists a version it has no file for.
 */
export const EXTENSION_MIGRATIONS: readonly Migration[] = [
  attic_ts_m20261125_000001_leases_and_gc_lock,
  attic_ts_m20261205_000001_object_present_paths_index,
];

/** Bookkeeping table of `EXTENSION_MIGRATIONS` (same shape as `seaql_migrations`). */
export const EXTENSION_MIGRATIONS_TABLE = "attic_ts_migrations";

export interface MigrateOptions {
  /** The migrations to apply (default: all of `MIGRATIONS`); tests pass a prefix. */
  migrations?: readonly Migration[];
  /** Checked before each migration. */
  signal?: AbortSignal;
}

async function ensureBookkeeping(knex: Knex, table = MIGRATIONS_TABLE): Promise<void> {
  if (await knex.schema.hasTable(table)) return;
  // sea-orm-migration's shape: version varchar PRIMARY KEY, applied_at bigint (unix seconds).
  await knex.schema.createTable(table, (t) => {
    t.specificType("version", "varchar").notNullable().primary();
    t.bigInteger("applied_at").notNullable();
  });
}

/**
 * The versions recorded as applied, ordered by `applied_at` and, within one second, by their
 * position in `MIGRATIONS` (unknown versions last).
 */
export async function appliedMigrations(knex: Knex): Promise<string[]> {
  if (!(await knex.schema.hasTable(MIGRATIONS_TABLE))) return [];
  const rows = (await knex(MIGRATIONS_TABLE).select("version", "applied_at")) as Array<{
    version: string;
    applied_at: unknown;
  }>;
  const position = (v: string): number => {
    const i = MIGRATIONS.findIndex((m) => m.name === v);
    return i < 0 ? MIGRATIONS.length : i;
  };
  return rows
    .sort((a, b) => Number(a.applied_at) - Number(b.applied_at) || position(a.version) - position(b.version) || a.version.localeCompare(b.version))
    .map((r) => r.version);
}

async function applyInTransaction(
  knex: Knex,
  dialect: Dialect,
  migration: Migration,
  connection?: unknown,
  table = MIGRATIONS_TABLE,
): Promise<void> {
  // Both engines have transactional DDL, so a migration and its bookkeeping row commit together.
  await knex.transaction(
    async (trx) => {
      await migration.up({ knex: trx, dialect });
      if (migration.sqliteForeignKeysOff && dialect.kind === "sqlite") {
        const violations = (await trx.raw("PRAGMA foreign_key_check")) as unknown[];
        if (violations.length > 0) {
          throw new Error(`${migration.name} left ${violations.length} foreign key violation(s)`);
        }
      }
      await trx(table).insert({ version: migration.name, applied_at: Math.floor(Date.now() / 1000) });
    },
    connection === undefined ? undefined : { connection },
  );
}

async function applyOne(knex: Knex, dialect: Dialect, migration: Migration): Promise<void> {
  if (!(migration.sqliteForeignKeysOff && dialect.kind === "sqlite")) {
    await applyInTransaction(knex, dialect, migration);
    return;
  }
  // `PRAGMA foreign_keys` is a no-op inside a transaction, so it is switched around it, on one
  // connection held for the whole sequence.
  const client = knex.client as {
    acquireConnection(): Promise<unknown>;
    releaseConnection(connection: unknown): Promise<void>;
  };
  const connection = await client.acquireConnection();
  try {
    await knex.raw("PRAGMA foreign_keys = OFF").connection(connection);
    try {
      await applyInTransaction(knex, dialect, migration, connection);
    } finally {
      await knex.raw("PRAGMA foreign_keys = ON").connection(connection);
    }
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Applies, in order, every migration not yet recorded in `seaql_migrations`, each in its own
 * transaction together with its bookkeeping row. Versions recorded by a newer Attic that we do
 * not know are left alone. A second call does nothing.
 */
export async function migrate(knex: Knex, dialect: Dialect, options: MigrateOptions = {}): Promise<void> {
  const migrations = options.migrations ?? MIGRATIONS;
  options.signal?.throwIfAborted();
  await ensureBookkeeping(knex);
  const applied = new Set(await appliedMigrations(knex));
  for (const migration of migrations) {
    if (applied.has(migration.name)) continue;
    options.signal?.throwIfAborted();
    try {
      await applyOne(knex, dialect, migration);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new DatabaseError(`Migration ${migration.name} failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    applied.add(migration.name);
  }
  if (dialect.kind === "sqlite" && applied.has(m20230112_000005_drop_old_nar_columns.name)) {
    // Attic's SQLite rebuild of `nar` (migration 11) lost `idx-nar-nar-hash`; databases it
    // migrated lack the index every dedup lookup needs. Restore it without a version row.
    await knex.raw("CREATE INDEX IF NOT EXISTS ?? ON ?? (??)", ["idx-nar-nar-hash", "nar", "nar_hash"]);
  }
  // Only on a full migration: a test applying a prefix of Attic's gets Attic's schema alone.
  if (options.migrations === undefined) await migrateExtensions(knex, dialect, options.signal);
}

async function migrateExtensions(knex: Knex, dialect: Dialect, signal: AbortSignal | undefined): Promise<void> {
  await ensureBookkeeping(knex, EXTENSION_MIGRATIONS_TABLE);
  const applied = new Set((await knex(EXTENSION_MIGRATIONS_TABLE).pluck("version")) as string[]);
  for (const migration of EXTENSION_MIGRATIONS) {
    if (applied.has(migration.name)) continue;
    signal?.throwIfAborted();
    try {
      await applyInTransaction(knex, dialect, migration, undefined, EXTENSION_MIGRATIONS_TABLE);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new DatabaseError(`Migration ${migration.name} failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }
}
