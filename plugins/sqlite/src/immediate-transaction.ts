import { createRequire } from "node:module";

/** The parts of knex's transaction this one uses. */
interface KnexTransaction {
  begin(connection: unknown): Promise<unknown>;
  query(connection: unknown, sql: string): Promise<unknown>;
}

/** knex's SQLite transaction, which this one extends (knex exports no typed path to it). */
const KnexSqliteTransaction = createRequire(import.meta.url)("knex/lib/dialects/sqlite3/execution/sqlite-transaction.js") as new (
  client: unknown,
  container: unknown,
  config: unknown,
  outerTx: unknown,
) => KnexTransaction;

/**
 * knex's SQLite transaction, begun with `BEGIN IMMEDIATE` instead of a deferred `BEGIN`.
 *
 * A deferred transaction takes a read snapshot at its first read and needs the write lock only at
 * its first write. If another connection (another atticd process, or the collector) committed in
 * between, the snapshot is stale and SQLite fails the write with SQLITE_BUSY at once, without
 * calling the busy handler: waiting could not help, so `busy_timeout` does not apply. IMMEDIATE
 * takes the write lock before the first read, waiting for it under `busy_timeout` like any
 * autocommit write. Every transaction here runs on the writer connection, which has one
 * transaction at a time anyway, so taking the lock early costs no concurrency in the process.
 * Nested transactions keep knex's SAVEPOINT: `begin` runs only for the top-level one.
 */
export class ImmediateSqliteTransaction extends KnexSqliteTransaction {
  override begin(connection: unknown): Promise<unknown> {
    return this.query(connection, "BEGIN IMMEDIATE;");
  }
}
