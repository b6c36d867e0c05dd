import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { describeDatabaseConformance } from "@attic-ts/core/testing";
import { openSqliteDatabase } from "../src/index.ts";

// A real database file per case (WAL, pragmas, pool of one), and the in-memory variant.
const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-conformance-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeDatabaseConformance("sqlite (file)", {
  create: () => openSqliteDatabase(`sqlite://${join(dir, `db-${++n}.sqlite`)}?mode=rwc`),
});

describeDatabaseConformance("sqlite (:memory:)", {
  create: () => openSqliteDatabase("sqlite::memory:"),
});
