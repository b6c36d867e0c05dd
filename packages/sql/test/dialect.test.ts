import { describe, expect, it } from "vitest";
import { isAtticError } from "@attic-ts/core";
import { batches, formatSqliteTimestamp, parseTimestampText, postgresDialect, sqliteDialect } from "../src/index.ts";

describe("SQLite timestamp text", () => {
  it("is written as RFC 3339 with milliseconds and +00:00, like sqlx", () => {
    expect(formatSqliteTimestamp(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)))).toBe("2024-01-02T03:04:05.006+00:00");
    expect(() => formatSqliteTimestamp(new Date(Number.NaN))).toThrow(/invalid Date/);
  });

  it.each([
    ["2023-01-12T10:11:12.123456789+00:00", "2023-01-12T10:11:12.123Z"],
    ["2023-01-12T10:11:12+00:00", "2023-01-12T10:11:12.000Z"],
    ["2023-01-12 10:11:12.5+00:00", "2023-01-12T10:11:12.500Z"],
    ["2023-01-12T10:11:12.123Z", "2023-01-12T10:11:12.123Z"],
    ["2023-01-12 10:11:12", "2023-01-12T10:11:12.000Z"],
    ["2023-01-12 10:11:12 UTC", "2023-01-12T10:11:12.000Z"],
    ["2023-01-12T12:11:12.000+02:00", "2023-01-12T10:11:12.000Z"],
    ["2023-01-12T05:11:12-0500", "2023-01-12T10:11:12.000Z"],
  ])("parses %s", (text, iso) => {
    expect(parseTimestampText(text).toISOString()).toBe(iso);
  });

  it("rejects text that is not a timestamp with a DatabaseError", () => {
    for (const bad of ["yesterday", "2023-13-45T99:99:99Z", ""]) {
      let caught: unknown;
      try {
        parseTimestampText(bad);
      } catch (err) {
        caught = err;
      }
      expect(isAtticError(caught) && caught.code).toBe("DatabaseError");
    }
  });

  it("orders as text the same way as in time, also against Attic's own rows", () => {
    const ours = [0, 1, 999, 1000, 1001].map((ms) => formatSqliteTimestamp(new Date(Date.UTC(2024, 0, 1, 0, 0, 0) + ms)));
    expect([...ours].sort()).toEqual(ours);
    // Attic (sqlx AutoSi) writes no fraction for whole seconds and 6 or 9 digits otherwise.
    expect("2024-01-01T00:00:00+00:00" < ours[1]!).toBe(true);
    expect("2024-01-01T00:00:00.000500+00:00" < ours[1]!).toBe(true);
    expect("2024-01-01T00:00:00.001500+00:00" > ours[1]!).toBe(true);
  });
});

describe("dialects", () => {
  it("keep SQLite batches within its compound-select and variable limits, Postgres within 65535 parameters", () => {
    expect(sqliteDialect.batchSize).toBeLessThanOrEqual(500);
    expect(postgresDialect.batchSize * 3).toBeLessThanOrEqual(65_535);
    expect([sqliteDialect.rowLocks, postgresDialect.rowLocks]).toEqual([false, true]);
  });

  it("recognise unique violations of their own driver only", () => {
    const sqlite = Object.assign(new Error("SQLITE_CONSTRAINT: UNIQUE constraint failed: chunk.remote_file_id"), { code: "SQLITE_CONSTRAINT" });
    const sqliteFk = Object.assign(new Error("SQLITE_CONSTRAINT: FOREIGN KEY constraint failed"), { code: "SQLITE_CONSTRAINT" });
    const pg = Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505" });
    expect([sqliteDialect.isUniqueViolation(sqlite), sqliteDialect.isUniqueViolation(sqliteFk), sqliteDialect.isUniqueViolation(pg)]).toEqual([true, false, false]);
    expect([postgresDialect.isUniqueViolation(pg), postgresDialect.isUniqueViolation(sqlite)]).toEqual([true, false]);
  });

  it("read timestamps from Dates (pg) and text (SQLite)", () => {
    const d = new Date(Date.UTC(2024, 4, 5, 6, 7, 8, 9));
    expect(postgresDialect.fromDbTimestamp(d)).toBe(d);
    expect(sqliteDialect.fromDbTimestamp(sqliteDialect.toDbTimestamp(d)).getTime()).toBe(d.getTime());
    expect(postgresDialect.toDbTimestamp(d)).toBe(d);
  });
});

describe("batches", () => {
  it("splits into consecutive slices of at most the size", () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 3)).toEqual([]);
    expect(() => batches([1], 0)).toThrow(RangeError);
  });
});
