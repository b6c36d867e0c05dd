import { z } from "zod";
import { ConfigError } from "@attic-ts/core";

/** The plugin's config: Attic's `[database]` table for a `sqlite:` URL. */
export const sqliteConfigSchema = z
  .object({
    url: z
      .string()
      .refine((url) => url.startsWith("sqlite:"), { message: 'expected a URL starting with "sqlite:"' }),
    /** Attic runs `SELECT 'heartbeat'` every 60 s when true. */
    heartbeat: z.boolean().optional(),
  })
  .strict();

export type SqliteConfig = z.infer<typeof sqliteConfigSchema>;

/** sqlx's `mode` values: read-only, read-write, read-write-create, in-memory. */
export type SqliteOpenMode = "ro" | "rw" | "rwc" | "memory";

/** Where and how to open the database file. */
export interface SqliteTarget {
  /** A file path, or `:memory:`. */
  filename: string;
  mode: SqliteOpenMode;
  /** True for an in-memory database (nothing on disk). */
  memory: boolean;
}

const KNOWN_PARAMS = new Set(["mode", "cache", "immutable"]);

/**
 * Parses a sqlx-style SQLite URL: `sqlite://path?mode=rwc`, `sqlite:path`, `sqlite::memory:`,
 * `sqlite://:memory:`. As sqlx, the path after `sqlite://` is taken verbatim (so
 * `sqlite:///var/lib/atticd/server.db` is absolute, `sqlite://server.db` relative) and
 * percent-decoded; without `mode=rwc` the file must already exist (checked at start).
 *
 * @throws ConfigError for another scheme, an unknown query parameter or mode.
 */
export function parseSqliteUrl(url: string, source = "database.url"): SqliteTarget {
  if (!url.startsWith("sqlite:")) throw new ConfigError(`expected a "sqlite:" URL, got ${JSON.stringify(url)}`, source);
  let rest = url.slice("sqlite:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  const q = rest.indexOf("?");
  const rawPath = q < 0 ? rest : rest.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : rest.slice(q + 1));

  for (const key of params.keys()) {
    if (!KNOWN_PARAMS.has(key)) {
      throw new ConfigError(`unknown SQLite URL parameter ${JSON.stringify(key)} (expected mode, cache, immutable)`, source);
    }
  }
  const modeParam = params.get("mode") ?? "rw";
  if (!["ro", "rw", "rwc", "memory"].includes(modeParam)) {
    throw new ConfigError(`unknown SQLite mode ${JSON.stringify(modeParam)} (expected ro, rw, rwc or memory)`, source);
  }
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new ConfigError(`invalid percent-encoding in SQLite URL ${JSON.stringify(url)}`, source);
  }

  if (path === "") throw new ConfigError(`expected a database file path in ${JSON.stringify(url)}`, source);
  const memory = path === ":memory:" || modeParam === "memory";
  if (memory) return { filename: ":memory:", mode: "memory", memory: true };
  return { filename: path, mode: modeParam as SqliteOpenMode, memory: false };
}
