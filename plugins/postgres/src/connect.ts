import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import knexFactory, { type Knex } from "knex";
import { DatabaseError, type Logger } from "@attic-ts/core";
import { KnexDatabase, postgresDialect } from "@attic-ts/sql";
import {
  DEFAULT_CONNECT_TIMEOUT_SECONDS,
  DEFAULT_POOL_MAX,
  parsePostgresUrl,
  redact,
  type PostgresTarget,
} from "./config.ts";

/** Pool and timeout settings (the attic-ts extensions of `[database]`). */
export interface PostgresPoolOptions {
  /** Most connections in the pool. */
  poolMax?: number;
  /** Seconds to wait for a new connection, and for a free one from the pool. */
  connectTimeoutSeconds?: number;
  /** Where knex's own warnings go (it would print to the console); default: dropped. */
  logger?: Logger;
}

/** The socket directories sqlx probes when the URL names no host (then it uses localhost). */
const DEFAULT_SOCKET_DIRS = ["/var/run/postgresql", "/private/tmp", "/tmp"];

/**
 * The host to connect to: the URL's, else `PGHOST`, else (as sqlx) the first default socket
 * directory holding this port's socket, else `localhost`.
 */
export function resolveHost(target: PostgresTarget, env: NodeJS.ProcessEnv = process.env): string {
  if (target.host !== undefined) return target.host;
  if (env.PGHOST) return env.PGHOST;
  const port = target.port ?? (Number(env.PGPORT) || 5432);
  return DEFAULT_SOCKET_DIRS.find((dir) => existsSync(join(dir, `.s.PGSQL.${port}`))) ?? "localhost";
}

/** node-postgres's `ssl` option for the target's TLS settings (false: no TLS). */
function sslOption(target: PostgresTarget): false | Record<string, unknown> {
  const tls = target.tls;
  if (!tls) return false;
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path, "utf8"));
  return {
    rejectUnauthorized: tls.verify,
    ...(tls.rootCert !== undefined && { ca: read(tls.rootCert) }),
    ...(tls.cert !== undefined && { cert: read(tls.cert) }),
    ...(tls.key !== undefined && { key: read(tls.key) }),
  };
}

/** The node-postgres connection config for a parsed URL (unset parts: pg's PG* env defaults). */
export function pgConnectionConfig(target: PostgresTarget, connectTimeoutSeconds = DEFAULT_CONNECT_TIMEOUT_SECONDS): Record<string, unknown> {
  return {
    host: resolveHost(target),
    ...(target.port !== undefined && { port: target.port }),
    ...(target.user !== undefined && { user: target.user }),
    ...(target.password !== undefined && { password: target.password }),
    ...(target.database !== undefined && { database: target.database }),
    ...(target.applicationName !== undefined && { application_name: target.applicationName }),
    ...(target.options !== undefined && { options: target.options }),
    ssl: sslOption(target),
    connectionTimeoutMillis: connectTimeoutSeconds * 1000,
  };
}

/**
 * A knex instance (client `pg`) on one PostgreSQL database. Connections are opened lazily,
 * up to `poolMax`; idle ones are closed. pg returns bigint columns and counts as strings,
 * which `@attic-ts/sql` converts; timestamptz comes back as a Date.
 */
export function createPostgresKnex(target: PostgresTarget, options: PostgresPoolOptions = {}): Knex {
  const connectTimeoutSeconds = options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS;
  return knexFactory({
    client: "pg",
    connection: pgConnectionConfig(target, connectTimeoutSeconds) as Knex.PgConnectionConfig,
    pool: { min: 0, max: options.poolMax ?? DEFAULT_POOL_MAX },
    acquireConnectionTimeout: connectTimeoutSeconds * 1000,
    // knex logs failed connection attempts itself; the caller sees them as DatabaseErrors.
    log: {
      warn: (message: unknown) => options.logger?.warn({ message }, "knex warning"),
      error: (message: unknown) => options.logger?.warn({ message }, "knex error"),
      deprecate: (method: unknown, alternative: unknown) => options.logger?.warn({ method, alternative }, "knex deprecation"),
      debug: () => undefined,
    },
  });
}

/** Start-time check with a clear failure: the server is reachable and accepts us. */
export async function verifyPostgres(knex: Knex, url: string): Promise<void> {
  try {
    await knex.raw("SELECT 1");
  } catch (err) {
    throw new DatabaseError(`Cannot connect to PostgreSQL at ${JSON.stringify(redact(url))}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Opens a `postgres://` URL as a ready `KnexDatabase` (checked, not migrated): for tools and
 * tests that work without the plugin lifecycle.
 */
export async function openPostgresDatabase(url: string, options: PostgresPoolOptions = {}): Promise<KnexDatabase> {
  const knex = createPostgresKnex(parsePostgresUrl(url), options);
  try {
    await verifyPostgres(knex, url);
  } catch (err) {
    await knex.destroy();
    throw err;
  }
  return new KnexDatabase(knex, postgresDialect);
}
