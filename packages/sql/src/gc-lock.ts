import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import type { GcLock } from "@attic-ts/core";
import type { Dialect } from "./dialect.ts";

/** The advisory lock key's text (hashed by Postgres to the 64-bit key). */
const PG_LOCK_NAME = "attic-ts:garbage-collection";
/** The SQLite lock row's name and lifetime (ms) without renewal. */
const SQLITE_LOCK_NAME = "garbage-collection";
export const SQLITE_GC_LOCK_TTL_MS = 60_000;
const SQLITE_RENEW_MS = SQLITE_GC_LOCK_TTL_MS / 4;

interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

/**
 * PostgreSQL: a session-level advisory lock on a connection taken out of the pool for as long
 * as the lock is held. If the process dies, the server closes the session and frees the lock.
 */
export async function tryPostgresGcLock(knex: Knex): Promise<GcLock | null> {
  const client = knex.client as PoolClient;
  const connection = await client.acquireConnection();
  let held = false;
  try {
    const result = (await knex
      .raw("SELECT pg_try_advisory_lock(hashtextextended(?, 0)) AS ok", [PG_LOCK_NAME])
      .connection(connection)) as { rows: Array<{ ok: boolean }> };
    held = result.rows[0]?.ok === true;
  } finally {
    if (!held) await client.releaseConnection(connection);
  }
  if (!held) return null;
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= (async () => {
        try {
          await knex.raw("SELECT pg_advisory_unlock(hashtextextended(?, 0))", [PG_LOCK_NAME]).connection(connection);
        } finally {
          await client.releaseConnection(connection);
        }
      })();
      return released;
    },
  };
}

/**
 * SQLite (one host, one file): a row in `attic_ts_gc_lock` owned by a random token until an
 * expiry that a timer renews while the lock is held. A collector that died leaves the row to
 * expire, after which the next collector takes it over in the same statement.
 */
export async function trySqliteGcLock(knex: Knex, dialect: Dialect): Promise<GcLock | null> {
  const owner = randomUUID();
  const expiry = () => dialect.toDbTimestamp(new Date(Date.now() + SQLITE_GC_LOCK_TTL_MS));
  // INSERT, or take over a row whose lease has run out; otherwise nothing changes.
  await knex.raw(
    `INSERT INTO attic_ts_gc_lock (name, owner, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
     WHERE attic_ts_gc_lock.expires_at < ?`,
    [SQLITE_LOCK_NAME, owner, expiry(), dialect.toDbTimestamp(new Date())],
  );
  const row = (await knex("attic_ts_gc_lock").where({ name: SQLITE_LOCK_NAME }).first("owner")) as { owner: string } | undefined;
  if (row?.owner !== owner) return null;
  const timer = setInterval(() => {
    knex("attic_ts_gc_lock")
      .where({ name: SQLITE_LOCK_NAME, owner })
      .update({ expires_at: expiry() })
      .catch(() => {}); // a missed renewal only shortens the lock; the run itself is unaffected
  }, SQLITE_RENEW_MS);
  timer.unref();
  let released: Promise<void> | undefined;
  return {
    release() {
      clearInterval(timer);
      released ??= knex("attic_ts_gc_lock")
        .where({ name: SQLITE_LOCK_NAME, owner })
        .delete()
        .then(() => undefined);
      return released;
    },
  };
}
