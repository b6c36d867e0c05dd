import { DatabaseError } from "@attic-ts/core";

/** The SQL engines this package speaks. */
export type DialectKind = "sqlite" | "postgres";

/**
 * Every per-engine difference in one place: parameter batching, row locks, column types and
 * how values cross the driver boundary.
 */
export interface Dialect {
  readonly kind: DialectKind;
  /**
   * Most items per `IN (...)` list or rows per multi-row INSERT. SQLite: knex writes a
   * multi-row INSERT as `SELECT ... UNION ALL SELECT ...`, capped at 500 terms
   * (SQLITE_MAX_COMPOUND_SELECT), which also keeps well under the bound-variable limit.
   * Postgres allows 65535 bind parameters per statement.
   */
  readonly batchSize: number;
  /** Whether `FOR UPDATE SKIP LOCKED` is emitted (Postgres only; SQLite has one global writer). */
  readonly rowLocks: boolean;
  /** The column type Attic's `timestamp_with_time_zone()` becomes. */
  readonly timestampType: string;
  /** A JS Date as the driver should bind it. */
  toDbTimestamp(date: Date): string | Date;
  /** A timestamp column value as the driver returns it, to a Date. */
  fromDbTimestamp(value: unknown): Date;
  /** True for a unique-constraint violation raised by this driver. */
  isUniqueViolation(err: unknown): boolean;
}

/**
 * Formats like sqlx's SQLite encoding of `DateTime<Utc>` (RFC 3339, `+00:00` offset), which is
 * what Attic's sea-orm writes: SQLite has no timestamp type, so the column holds TEXT and
 * comparisons (GC cutoffs) are string compares. The fixed `.mmm+00:00` shape orders correctly
 * against both our rows and Attic's (`...:SS+00:00`, `...:SS.ffffff+00:00`).
 */
export function formatSqliteTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new DatabaseError("Cannot store an invalid Date");
  return date.toISOString().replace(/Z$/, "+00:00");
}

const TIMESTAMP_TEXT =
  /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses the timestamp texts sqlx and we write (`2023-01-12T10:11:12.123456789+00:00`, with a
 * space instead of `T`, `Z`, or no zone = UTC) to a Date with millisecond precision.
 */
export function parseTimestampText(text: string): Date {
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) throw new DatabaseError(`Unparseable timestamp in database: ${JSON.stringify(text)}`);
  const [, day, time, fraction = "", zoneRaw = "Z"] = m;
  const ms = (fraction + "000").slice(0, 3);
  let zone = zoneRaw.toUpperCase() === "UTC" ? "Z" : zoneRaw.toUpperCase();
  if (/^[+-]\d{2}$/.test(zone)) zone += ":00";
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${day}T${time}.${ms}${zone}`);
  if (Number.isNaN(date.getTime())) throw new DatabaseError(`Invalid timestamp in database: ${JSON.stringify(text)}`);
  return date;
}

function fromAnyTimestamp(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === "string") return parseTimestampText(value);
  if (typeof value === "number") return new Date(value);
  throw new DatabaseError(`Unexpected timestamp value from database: ${String(value)}`);
}

function errorCode(err: unknown): unknown {
  return typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
}

export const sqliteDialect: Dialect = {
  kind: "sqlite",
  batchSize: 500,
  rowLocks: false,
  // sea-query's SQLite name for timestamptz; the "text" in it gives the column TEXT affinity.
  timestampType: "timestamp_with_timezone_text",
  toDbTimestamp: formatSqliteTimestamp,
  fromDbTimestamp: fromAnyTimestamp,
  isUniqueViolation: (err) =>
    errorCode(err) === "SQLITE_CONSTRAINT" && /UNIQUE constraint failed/.test((err as Error).message),
};

export const postgresDialect: Dialect = {
  kind: "postgres",
  // 65535 bind parameters per statement; the widest batch binds 3 per row.
  batchSize: 10_000,
  rowLocks: true,
  timestampType: "timestamptz",
  // node-postgres serialises a Date with its offset, so the instant is preserved.
  toDbTimestamp: (date) => date,
  fromDbTimestamp: fromAnyTimestamp,
  isUniqueViolation: (err) => errorCode(err) === "23505",
};

/** The dialect for a kind. */
export function dialectFor(kind: DialectKind): Dialect {
  return kind === "sqlite" ? sqliteDialect : postgresDialect;
}
