import type { Migration } from "./migration.ts";

/** Upload leases, their holds, and the SQLite collector lock (attic-ts tables only). */
export const attic_ts_m20261125_000001_leases_and_gc_lock: Migration = {
  name: "attic_ts_m20261125_000001_leases_and_gc_lock",
  async up({ knex, dialect }) {
    await knex.schema.createTable("attic_ts_lease", (t) => {
      t.bigIncrements("id").primary();
      t.specificType("expires_at", dialect.timestampType).notNullable();
      t.index(["expires_at"], "idx-attic-ts-lease-expires-at");
    });
    // No foreign keys into Attic's tables: a hold on a row that was deleted meanwhile is
    // harmless (giving it back updates nothing), and Attic's SQLite table rebuilds stay valid.
    await knex.schema.createTable("attic_ts_lease_hold", (t) => {
      t.bigIncrements("id").primary();
      t.bigInteger("lease_id").notNullable();
      t.bigInteger("chunk_id").nullable();
      t.bigInteger("nar_id").nullable();
      t.index(["lease_id", "chunk_id"], "idx-attic-ts-lease-hold-lease-chunk");
      t.index(["lease_id", "nar_id"], "idx-attic-ts-lease-hold-lease-nar");
      t.index(["chunk_id"], "idx-attic-ts-lease-hold-chunk");
      t.index(["nar_id"], "idx-attic-ts-lease-hold-nar");
    });
    await knex.schema.createTable("attic_ts_gc_lock", (t) => {
      t.string("name").primary();
      t.string("owner").notNullable();
      t.specificType("expires_at", dialect.timestampType).notNullable();
    });
  },
};
