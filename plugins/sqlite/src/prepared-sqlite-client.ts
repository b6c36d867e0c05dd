import { createRequire } from "node:module";
import type { Knex } from "knex";
import { ImmediateSqliteTransaction } from "./immediate-transaction.ts";

type Callback = (this: unknown, err: Error | null, rows?: unknown[]) => void;

/** The parts of a node-sqlite3 statement this client uses. */
interface SqliteStatement {
  all(params: unknown[], callback: Callback): void;
  run(params: unknown[], callback: Callback): void;
  reset(callback: () => void): void;
  finalize(callback?: (err: Error | null) => void): void;
}

/** The parts of a node-sqlite3 connection this client uses. */
interface SqliteConnection {
  prepare(sql: string, callback: (err: Error | null) => void): SqliteStatement;
  all(sql: string, params: unknown[], callback: Callback): void;
  run(sql: string, params: unknown[], callback: Callback): void;
}

interface KnexQueryObject {
  sql: string;
  method?: string;
  returning?: unknown;
  bindings?: unknown[];
  response?: unknown;
  context?: unknown;
}

/** The knex configuration of a `PreparedSqliteClient`. */
export interface PreparedSqliteConfig extends Knex.Config {
  /**
   * The connections are `PRAGMA query_only` (the read pool): their transactions begin with
   * knex's deferred `BEGIN`, as SQLite refuses such a connection the write lock that
   * `BEGIN IMMEDIATE` takes.
   */
  queryOnly?: boolean;
}

/** knex's own SQLite client, which this one extends (knex exports no typed path to it). */
const KnexSqliteClient = createRequire(import.meta.url)("knex/lib/dialects/sqlite3/index.js") as new (
  config: PreparedSqliteConfig,
) => {
  readonly config: PreparedSqliteConfig;
  transaction(container: unknown, config: unknown, outerTx: unknown): unknown;
  destroyRawConnection(connection: unknown): Promise<void>;
};

/** Prepared statements kept per connection; the least recently used beyond it are finalized. */
export const STATEMENTS_PER_CONNECTION = 256;

/**
 * The statements worth keeping: data statements and transaction control, which repeat. Others
 * (PRAGMA, DDL, EXPLAIN) run once; an EXPLAIN of a write, kept unfinalized, makes SQLite refuse
 * the next COMMIT ("SQL statements in progress").
 */
const KEPT_STATEMENT = /^\s*(select|insert|update|delete|with|begin|commit|rollback|savepoint|release)\b/i;

/**
 * Each connection's statements by SQL text, least recently used first; each resolves once
 * prepared. Module-level, not a private field: knex runs transactions on
 * `Object.create(client)`, where private fields are out of reach.
 */
const statementsOf = new WeakMap<object, Map<string, Promise<SqliteStatement>>>();

function prepare(connection: SqliteConnection, sql: string): Promise<SqliteStatement> {
  // Calls queued on a statement that then fails to prepare are never answered by node-sqlite3,
  // so nothing is run on one before it is prepared.
  return new Promise((resolve, reject) => {
    const statement = connection.prepare(sql, (err) => (err ? reject(err) : resolve(statement)));
  });
}

function finalize(statement: Promise<SqliteStatement>): Promise<void> {
  // node-sqlite3 runs a finalize after the calls already queued on the statement.
  return statement.then(
    (s) => new Promise<void>((resolve) => s.finalize(() => resolve())),
    () => undefined,
  );
}

/** The connection's statement for `sql`, prepared on first use, made the most recently used. */
function keptStatement(connection: SqliteConnection, sql: string): Promise<SqliteStatement> {
  let statements = statementsOf.get(connection);
  if (!statements) {
    statements = new Map();
    statementsOf.set(connection, statements);
  }
  let statement = statements.get(sql);
  if (statement) {
    statements.delete(sql);
  } else {
    statement = prepare(connection, sql);
    const kept = statements;
    const failed = statement;
    failed.catch(() => {
      if (kept.get(sql) === failed) kept.delete(sql);
    });
    if (statements.size >= STATEMENTS_PER_CONNECTION) {
      const [oldestSql, oldest] = statements.entries().next().value as [string, Promise<SqliteStatement>];
      statements.delete(oldestSql);
      void finalize(oldest);
    }
  }
  statements.set(sql, statement);
  return statement;
}

/**
 * knex's SQLite client, with each connection's statements prepared once and reused. knex hands
 * node-sqlite3 the SQL text on every call, and node-sqlite3 then prepares, runs and finalizes a
 * statement: three trips to libuv's thread pool where a prepared statement needs one. Measured
 * here: `select 1` took 127 us that way and 46 us prepared, and the writer's transactions
 * (every upload's lease, claims and commit queue for it) are chains of such calls. The SQL of
 * the hot paths repeats (the same text for the same batch sizes), so a small cache per
 * connection serves it.
 */
export class PreparedSqliteClient extends KnexSqliteClient {
  /** Runs a query as knex's SQLite client does (same driver method, same context), on a kept statement where it can. */
  async _query(connection: SqliteConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    if (!obj.sql) throw new Error("The query is empty");
    // The driver method knex's own client picks, so results read the same (`del` reports its
    // count even with RETURNING).
    const method = obj.method === "insert" || obj.method === "update" ? (obj.returning ? "all" : "run") : obj.method === "counter" || obj.method === "del" ? "run" : "all";
    const bindings = obj.bindings ?? [];
    // `run` steps once: a kept statement with RETURNING would stay mid-way and hold up the
    // transaction's COMMIT.
    const keep = KEPT_STATEMENT.test(obj.sql) && !(method === "run" && obj.returning);
    const statement = keep ? await keptStatement(connection, obj.sql) : undefined;
    return new Promise((resolve, reject) => {
      const done: Callback = function (err, rows) {
        if (err) {
          // A statement that failed with SQLITE_BUSY is left active (SQLite lets it be retried),
          // and node-sqlite3 resets a statement only when it next runs. A kept one could wait
          // long for that, and while any statement is active, SQLite keeps the connection's read
          // transaction open after each autocommit statement: the connection's snapshot then
          // goes stale as soon as another process commits, and all its writes fail with
          // SQLITE_BUSY at once. Reset before anything else runs on the connection.
          if (statement) statement.reset(() => reject(err));
          else reject(err);
          return;
        }
        obj.response = rows;
        // knex reads `lastID` and `changes` from the context, as node-sqlite3 sets them on it.
        obj.context = this;
        resolve(obj);
      };
      // Not kept: prepared, run and finalized by node-sqlite3, as knex's own client does it.
      if (!statement) connection[method](obj.sql, bindings, done);
      else statement[method](bindings, done);
    });
  }

  /** A top-level transaction begins IMMEDIATE (see `ImmediateSqliteTransaction`), except on query_only connections. */
  override transaction(container: unknown, config: unknown, outerTx: unknown): unknown {
    if (this.config.queryOnly) return super.transaction(container, config, outerTx);
    return new ImmediateSqliteTransaction(this, container, config, outerTx);
  }

  /** Finalizes the connection's statements first: SQLite refuses to close while any is open. */
  override async destroyRawConnection(connection: unknown): Promise<void> {
    const statements = statementsOf.get(connection as object);
    statementsOf.delete(connection as object);
    if (statements) await Promise.all([...statements.values()].map(finalize));
    return super.destroyRawConnection(connection);
  }
}
