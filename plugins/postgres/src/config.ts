import { z } from "zod";
import { ConfigError, parseDurationSeconds } from "@attic-ts/core";

/** The URL schemes Attic (sqlx) accepts for PostgreSQL. */
export const POSTGRES_SCHEMES = ["postgres", "postgresql"] as const;

/** Default most connections in the pool (attic-ts extension `pool-max`). */
export const DEFAULT_POOL_MAX = 10;
/** Default seconds to wait for a new connection (attic-ts extension `connect-timeout`). */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 30;

function isPostgresUrl(url: string): boolean {
  return POSTGRES_SCHEMES.some((scheme) => url.startsWith(`${scheme}:`));
}

/** A humantime duration ("30s", "1m") or a number of seconds, to whole seconds (> 0). */
const secondsSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  let seconds: number;
  try {
    seconds = typeof value === "number" ? value : parseDurationSeconds(value);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
  if (!Number.isFinite(seconds) || seconds <= 0) {
    ctx.addIssue({ code: "custom", message: "expected a duration greater than zero" });
    return z.NEVER;
  }
  return seconds;
});

/**
 * The plugin's config: Attic's `[database]` table for a `postgres://` or `postgresql://` URL.
 * `url` and `heartbeat` are Attic's keys; `pool-max` and `connect-timeout` are attic-ts
 * extensions (Attic uses sea-orm's pool defaults), so an Attic config never sets them.
 */
export const postgresConfigSchema = z
  .object({
    url: z.string().refine(isPostgresUrl, { message: 'expected a URL starting with "postgres:" or "postgresql:"' }),
    /** Attic runs `SELECT 'heartbeat'` every 60 s when true. */
    heartbeat: z.boolean().optional(),
    /** attic-ts extension: most pooled connections (default 10). */
    "pool-max": z.number().int().positive().default(DEFAULT_POOL_MAX),
    /** attic-ts extension: connect timeout, humantime or seconds (default 30 s), parsed to seconds. */
    "connect-timeout": secondsSchema.default(DEFAULT_CONNECT_TIMEOUT_SECONDS),
  })
  .strict();

export type PostgresConfig = z.output<typeof postgresConfigSchema>;

/** TLS settings from `sslmode` (and the certificate files sqlx reads). */
export interface PostgresTls {
  /** `verify-ca` / `verify-full` check the server certificate; `require` only encrypts. */
  verify: boolean;
  /** `sslrootcert`, `sslcert`, `sslkey`: file paths, read at connect. */
  rootCert?: string;
  cert?: string;
  key?: string;
}

/** Where and as whom to connect, parsed from the URL (unset fields fall back to PG* env vars). */
export interface PostgresTarget {
  /** A host name, an IP address, or a socket directory (an absolute path). */
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  applicationName?: string;
  /** Server options (`-c name=value ...`), sqlx's `options` parameter. */
  options?: string;
  /** Undefined for `disable`, `allow` and `prefer` (pg cannot fall back to plain text). */
  tls?: PostgresTls;
  /** Query parameters sqlx would ignore with a warning; the plugin logs them. */
  ignoredParams: string[];
}

const SSL_MODES = new Set(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]);

function decode(text: string, url: string, source: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError(`invalid percent-encoding in PostgreSQL URL ${JSON.stringify(redact(url))}`, source);
  }
}

/** The URL with its password replaced, for error messages. */
export function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@?#]*):[^@/?#]*@/i, "$1:***@");
}

function parsePort(text: string, url: string, source: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ConfigError(`invalid port ${JSON.stringify(text)} in PostgreSQL URL ${JSON.stringify(redact(url))}`, source);
  }
  return port;
}

/**
 * Parses a sqlx-style PostgreSQL URL: `postgres://user:pass@host:port/db?sslmode=require`,
 * `postgresql:///attic?host=/run/postgresql` (a socket directory, the host part left empty),
 * `postgres://%2Frun%2Fpostgresql/attic` (a percent-encoded socket directory as host).
 * Query parameters as sqlx: `host`, `hostaddr`, `port`, `dbname`, `user`, `password`,
 * `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `application_name`, `options`; others are
 * ignored (reported in `ignoredParams`). Query parameters override the URL's parts.
 *
 * @throws ConfigError for another scheme, a bad port or sslmode, or bad percent-encoding.
 */
export function parsePostgresUrl(url: string, source = "database.url"): PostgresTarget {
  const m = /^(postgres|postgresql):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(url);
  if (!m) {
    throw new ConfigError(`expected a "postgres://" or "postgresql://" URL, got ${JSON.stringify(redact(url))}`, source);
  }
  const [, , authority = "", path = "", query = ""] = m;
  const target: PostgresTarget = { ignoredParams: [] };

  const at = authority.lastIndexOf("@");
  const userInfo = at < 0 ? "" : authority.slice(0, at);
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  if (userInfo !== "") {
    const colon = userInfo.indexOf(":");
    const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
    if (user !== "") target.user = decode(user, url, source);
    if (colon >= 0) target.password = decode(userInfo.slice(colon + 1), url, source);
  }
  // `[::1]:5432`, `host:5432`, `host`, or empty (socket or default host).
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
  if (!hp) throw new ConfigError(`invalid host in PostgreSQL URL ${JSON.stringify(redact(url))}`, source);
  const host = hp[1]?.startsWith("[") ? hp[1].slice(1, -1) : decode(hp[1] ?? "", url, source);
  if (host !== "") target.host = host;
  if (hp[2]) target.port = parsePort(hp[2], url, source);
  const database = decode(path.replace(/^\//, ""), url, source);
  if (database !== "") target.database = database;

  let sslmode = "prefer";
  const ssl: Omit<PostgresTls, "verify"> = {};
  for (const [key, value] of new URLSearchParams(query)) {
    switch (key) {
      case "host":
      case "hostaddr":
        target.host = value;
        break;
      case "port":
        target.port = parsePort(value, url, source);
        break;
      case "dbname":
        target.database = value;
        break;
      case "user":
        target.user = value;
        break;
      case "password":
        target.password = value;
        break;
      case "application_name":
        target.applicationName = value;
        break;
      case "options":
        target.options = value;
        break;
      case "sslmode":
      case "ssl-mode":
        if (!SSL_MODES.has(value)) {
          throw new ConfigError(
            `unknown sslmode ${JSON.stringify(value)} (expected disable, allow, prefer, require, verify-ca or verify-full)`,
            source,
          );
        }
        sslmode = value;
        break;
      case "sslrootcert":
      case "ssl-root-cert":
        ssl.rootCert = value;
        break;
      case "sslcert":
      case "ssl-cert":
        ssl.cert = value;
        break;
      case "sslkey":
      case "ssl-key":
        ssl.key = value;
        break;
      default:
        target.ignoredParams.push(key);
    }
  }
  if (sslmode === "require" || sslmode === "verify-ca" || sslmode === "verify-full") {
    target.tls = { verify: sslmode !== "require", ...ssl };
  }
  return target;
}
