import type { Migration } from "./migration.ts";

/** The index `findPresentPaths` probes on PostgreSQL (see the migration). */
export const PRESENT_PATHS_INDEX = "idx-attic-ts-object-cache-hash-nar";

/**
 * PostgreSQL only: `object (cache_id, store_path_hash) INCLUDE (nar_id)`, beside Attic's
 * `idx-object-cache-hash` (left as Attic made it). get-missing-paths looks up each hash's
 * `nar_id` to check its NAR is valid; with `nar_id` in the index, a probe of an all-visible page
 * (as autovacuum leaves them) needs no read of the object row. 10,000 hashes against 1,000,000
 * objects, after a VACUUM: p50 65-68 ms against 107-134 ms (BENCHMARKS.md, fifteenth pass).
 *
 * SQLite has no INCLUDE and meets the target without it, so this records the version and does
 * nothing there. A plain CREATE INDEX holds writes to `object` while it builds (1.3 s and 74 MB
 * per million objects here); CONCURRENTLY cannot run in the migration's transaction.
 */
export const attic_ts_m20261205_000001_object_present_paths_index: Migration = {
  name: "attic_ts_m20261205_000001_object_present_paths_index",
  async up({ knex, dialect }) {
    if (dialect.kind !== "postgres") return;
    await knex.raw(`CREATE INDEX ?? ON "object" ("cache_id", "store_path_hash") INCLUDE ("nar_id")`, [PRESENT_PATHS_INDEX]);
  },
};
