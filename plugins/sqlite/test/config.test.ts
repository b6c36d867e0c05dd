import { describe, expect, it } from "vitest";
import { isAtticError } from "@attic-ts/core";
import { parseSqliteUrl, sqliteConfigSchema, sqliteUriFor } from "../src/index.ts";

describe("parseSqliteUrl", () => {
  it.each([
    ["sqlite:///var/lib/atticd/server.db?mode=rwc", { filename: "/var/lib/atticd/server.db", mode: "rwc", memory: false }],
    ["sqlite://server.db?mode=rwc", { filename: "server.db", mode: "rwc", memory: false }],
    ["sqlite://./data/server.db", { filename: "./data/server.db", mode: "rw", memory: false }],
    ["sqlite:server.db", { filename: "server.db", mode: "rw", memory: false }],
    ["sqlite:/abs/server.db?mode=ro", { filename: "/abs/server.db", mode: "ro", memory: false }],
    ["sqlite:///tmp/with%20space.db?mode=rwc", { filename: "/tmp/with space.db", mode: "rwc", memory: false }],
    ["sqlite::memory:", { filename: ":memory:", mode: "memory", memory: true }],
    ["sqlite://:memory:", { filename: ":memory:", mode: "memory", memory: true }],
    ["sqlite://:memory:?cache=shared", { filename: ":memory:", mode: "memory", memory: true }],
    ["sqlite://x.db?mode=memory", { filename: ":memory:", mode: "memory", memory: true }],
  ])("%s", (url, expected) => {
    expect(parseSqliteUrl(url)).toEqual(expected);
  });

  it.each([
    ["postgres://localhost/attic", /"sqlite:" URL/],
    ["sqlite://x.db?mode=rwx", /unknown SQLite mode "rwx"/],
    ["sqlite://x.db?journal=wal", /unknown SQLite URL parameter "journal"/],
    ["sqlite://", /expected a database file path/],
    ["sqlite://bad%zz.db", /percent-encoding/],
  ])("rejects %s with a ConfigError", (url, message) => {
    let caught: unknown;
    try {
      parseSqliteUrl(url);
    } catch (err) {
      caught = err;
    }
    expect(isAtticError(caught) && caught.code).toBe("ConfigError");
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).toContain("database.url");
  });
});

describe("sqliteUriFor", () => {
  it("encodes the sqlx mode into a SQLite URI and escapes URI syntax in the path", () => {
    expect(sqliteUriFor({ filename: "/a/b.db", mode: "rwc", memory: false })).toBe("file:/a/b.db?mode=rwc");
    expect(sqliteUriFor({ filename: "/a/x?y#z%.db", mode: "rw", memory: false })).toBe("file:/a/x%3Fy%23z%25.db?mode=rw");
    expect(sqliteUriFor({ filename: ":memory:", mode: "memory", memory: true })).toBe(":memory:");
  });
});

describe("sqliteConfigSchema", () => {
  it("accepts url and heartbeat, and nothing else", () => {
    expect(sqliteConfigSchema.parse({ url: "sqlite::memory:", heartbeat: true })).toEqual({ url: "sqlite::memory:", heartbeat: true });
    expect(sqliteConfigSchema.parse({ url: "sqlite://a.db?mode=rwc" })).toEqual({ url: "sqlite://a.db?mode=rwc" });
    expect(sqliteConfigSchema.safeParse({ url: "sqlite::memory:", pool: 4 }).success).toBe(false);
    expect(sqliteConfigSchema.safeParse({ url: "postgres://x" }).success).toBe(false);
    expect(sqliteConfigSchema.safeParse({ url: "sqlite::memory:", heartbeat: "yes" }).success).toBe(false);
  });
});
