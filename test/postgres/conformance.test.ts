import { inject } from "vitest";
import type { Database } from "@attic-ts/core";
import { describeDatabaseConformance } from "@attic-ts/core/testing";
import { openPostgresDatabase } from "@attic-ts/db-postgres";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.ts";

// The shared Database suite on a real PostgreSQL server: a fresh database per case, dropped after.
const serverUrl = inject("postgresUrl");
const databases = new Map<Database, TestDatabase>();

describeDatabaseConformance("postgres", {
  async create() {
    const created = await createTestDatabase(serverUrl, "conformance");
    const db = await openPostgresDatabase(created.url);
    databases.set(db, created);
    return db;
  },
  openAnother: (db) => openPostgresDatabase(databases.get(db)!.url),
  async cleanup(db) {
    await db.close();
    await databases.get(db)?.drop();
    databases.delete(db);
  },
});
