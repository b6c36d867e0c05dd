import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import type { Database } from "@attic-ts/core";
import { describeDatabaseConformance } from "@attic-ts/core/testing";
import { openSqliteDatabase } from "../src/index.ts";

// A real database file per case (WAL, pragmas, pool of one), and the in-memory variant.
const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-conformance-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const urls = new WeakMap<Database, string>();

describeDatabaseConformance("sqlite (file)", {
  async create() {
    const url = `sqlite://${join(dir, `db-${++n}.sqlite`)}?mode=rwc`;
    const db = await openSqliteDatabase(url);
    urls.set(db, url);
    return db;
  },
  // Its own writer and read pool on the same file: SQLite locks them out as another process.
  openAnother: (db) => openSqliteDatabase(urls.get(db)!),
});

describeDatabaseConformance("sqlite (:memory:)", {
  create: () => openSqliteDatabase("sqlite::memory:"),
});
