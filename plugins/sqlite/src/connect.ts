import { access, constants } from "node:fs/promises";
import knexFactory, { type Knex } from "knex";
import { ConfigError, DatabaseError } from "@attic-ts/core";
import { KnexDatabase, sqliteDialect } from "@attic-ts/sql";
import { parseSqliteUrl, type SqliteTarget } from "./config.ts";
import { PreparedSqliteClient, type PreparedSqliteConfig } from "./prepared-sqlite-client.ts";

/** Minimal view of a node-sqlite3 connection, for the pragmas. */
interface SqliteConnection {
  exec(sql: string, callback: (err: Error | null) => void): void;
}

/** Milliseconds a statement waits for another process's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/** Oldest SQLite with `UPDATE ... RETURNING`, which the find-and-lock queries use. */
const MIN_SQLITE_VERSION = [3, 35, 0] as const;

/**
 * Memory-mapped reads, with Attic's value (SQLite caps it at its compile-time maximum), on the
 * read connections. Pages are read through the mapping instead of a read() and a copy into
 * each connection's 2 MiB page cache: get-missing-paths with 10,000 hashes against 1,000,000
 * objects took 63-73 ms with it and 102-113 ms without (BENCHMARKS.md, fourteenth pass).
 * Attic maps on every connection; the writer here does not, because the pages it touches
 * would count in the process's RSS during uploads (the 2 GiB upload peaked at 161-162 MiB
 * with the writer mapped too, 146 with the readers only; noisy, two runs each).
 */
const MMAP_PRAGMA = "PRAGMA mmap_size = 30000000000";

/**
 * Attic's tuning pragmas (WAL, normal sync, in-memory temp tables; mmap, see above). Attic
 * ignores their failures (an in-memory or read-only database refuses WAL), and so do we.
 */
const TUNING_PRAGMAS = ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = normal", "PRAGMA temp_store = memory"];

/** Required pragmas: the schema's ON DELETE CASCADE / SET NULL only act with foreign keys on. */
const REQUIRED_PRAGMAS = ["PRAGMA foreign_keys = ON", `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`];

/**
 * Pragmas of a read connection: `query_only` makes an accidental write fail instead of
 * competing with the writer for the lock.
 */
const READER_PRAGMAS = ["PRAGMA query_only = ON", `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`];

/**
 * Read connections beside the writer. Each query on a node-sqlite3 connection is a few hops to
 * libuv's thread pool (4 threads by default, shared with file I/O), so more connections than
 * that only queue there.
 */
export const READ_CONNECTIONS = 3;

function exec(conn: SqliteConnection, sql: string): Promise<void> {
  return new Promise((resolve, reject) => conn.exec(sql, (err) => (err ? reject(err) : resolve())));
}

async function preparePragmas(conn: SqliteConnection): Promise<void> {
  for (const pragma of TUNING_PRAGMAS) await exec(conn, pragma).catch(() => undefined);
  for (const pragma of REQUIRED_PRAGMAS) await exec(conn, pragma);
}

async function prepareReaderPragmas(conn: SqliteConnection): Promise<void> {
  await exec(conn, MMAP_PRAGMA).catch(() => undefined);
  for (const pragma of READER_PRAGMAS) await exec(conn, pragma);
}

type AfterCreate = (conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) => void;

function afterCreate(prepare: (conn: SqliteConnection) => Promise<void>): AfterCreate {
  return (conn, done) => {
    prepare(conn).then(
      () => done(null, conn),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err)), conn),
    );
  };
}

/**
 * The filename node-sqlite3 opens: a SQLite URI whose `mode` enforces sqlx's semantics
 * (`rw` fails on a missing file, `ro` opens read-only, `rwc` creates).
 */
export function sqliteUriFor(target: SqliteTarget): string {
  if (target.memory) return ":memory:";
  const encoded = target.filename.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `file:${encoded}?mode=${target.mode}`;
}

/**
 * The writer: a knex instance on one SQLite database for every write and transaction.
 *
 * The pool holds exactly one connection, never reaped: SQLite has one writer at a time, so more
 * connections only turn concurrent writes into SQLITE_BUSY waits; an in-memory database exists
 * per connection; and `PRAGMA foreign_keys` is per connection. Writes queue for the connection
 * instead; the request path's lookups go to `createSqliteReadKnex`'s connections. Transactions
 * begin IMMEDIATE (`PreparedSqliteClient`), so a writer in another process is waited for.
 */
export function createSqliteKnex(target: SqliteTarget): Knex {
  return knexFactory({
    client: PreparedSqliteClient as unknown as typeof Knex.Client,
    connection: { filename: sqliteUriFor(target), flags: ["OPEN_URI"] },
    useNullAsDefault: true,
    pool: { min: 1, max: 1, afterCreate: afterCreate(preparePragmas) },
  });
}

/**
 * The read pool beside `createSqliteKnex`'s writer, or null for an in-memory database (which
 * exists per connection). WAL lets these read while the writer writes, each seeing the data
 * committed when its statement starts, so a read issued after a write resolved sees it.
 * Connections open lazily (after the writer has set WAL) and close after 30 s idle.
 */
export function createSqliteReadKnex(target: SqliteTarget, connections = READ_CONNECTIONS): Knex | null {
  if (target.memory) return null;
  // The writer creates the file (`rwc`); a reader never should.
  const mode = target.mode === "ro" ? "ro" : "rw";
  const config: PreparedSqliteConfig = {
    client: PreparedSqliteClient as unknown as typeof Knex.Client,
    connection: { filename: sqliteUriFor({ ...target, mode }), flags: ["OPEN_URI"] },
    useNullAsDefault: true,
    pool: { min: 0, max: connections, idleTimeoutMillis: 30_000, afterCreate: afterCreate(prepareReaderPragmas) },
    queryOnly: true,
  };
  return knexFactory(config);
}

/** A `KnexDatabase` on one SQLite database: the single writer and, on a file, the read pool. */
export function createSqliteDatabase(target: SqliteTarget): KnexDatabase {
  const readKnex = createSqliteReadKnex(target);
  return new KnexDatabase(createSqliteKnex(target), sqliteDialect, readKnex ? { readKnex } : {});
}

/**
 * Start-time checks with clear failures: the file exists unless `mode=rwc` (ConfigError),
 * the connection opens, and SQLite is new enough for `RETURNING` (DatabaseError).
 */
export async function verifySqlite(knex: Knex, target: SqliteTarget): Promise<void> {
  if (!target.memory && target.mode !== "rwc") {
    try {
      await access(target.filename, constants.F_OK);
    } catch {
      throw new ConfigError(
        `SQLite database file ${JSON.stringify(target.filename)} does not exist; add "?mode=rwc" to the URL to create it`,
        "database.url",
      );
    }
  }
  let version: string;
  try {
    const rows = (await knex.raw("SELECT sqlite_version() AS version")) as Array<{ version: string }>;
    version = String(rows[0]?.version);
  } catch (err) {
    throw new DatabaseError(`Cannot open SQLite database ${JSON.stringify(target.filename)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const parts = version.split(".").map(Number);
  const tooOld = MIN_SQLITE_VERSION.some((min, i) => {
    const prefixEqual = MIN_SQLITE_VERSION.slice(0, i).every((m, j) => (parts[j] ?? 0) === m);
    return prefixEqual && (parts[i] ?? 0) < min;
  });
  if (tooOld) throw new DatabaseError(`SQLite ${version} is too old: ${MIN_SQLITE_VERSION.join(".")} or newer is required`);
}

/**
 * `verifySqlite` on the writer, then the read pool: kept only when the database is in WAL mode
 * (otherwise a reader's lock would stall the writer's commits); one read connection is opened
 * so a reader that cannot open fails the start, not the first request.
 */
export async function verifySqliteDatabase(db: KnexDatabase, target: SqliteTarget): Promise<void> {
  await verifySqlite(db.knex, target);
  if (db.readKnex === db.knex) return;
  let step = "check the journal mode of";
  try {
    const rows = (await db.knex.raw("PRAGMA journal_mode")) as Array<{ journal_mode?: string }>;
    if (String(rows[0]?.journal_mode).toLowerCase() !== "wal") {
      await db.dropReadPool();
      return;
    }
    step = "open a read connection to";
    await db.readKnex.raw("SELECT 1");
  } catch (err) {
    throw new DatabaseError(`Cannot ${step} SQLite database ${JSON.stringify(target.filename)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Opens a `sqlite:` URL as a ready `KnexDatabase` (checked, not migrated): for tools and tests
 * that work without the plugin lifecycle.
 */
export async function openSqliteDatabase(url: string): Promise<KnexDatabase> {
  const target = parseSqliteUrl(url);
  const db = createSqliteDatabase(target);
  try {
    await verifySqliteDatabase(db, target);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
