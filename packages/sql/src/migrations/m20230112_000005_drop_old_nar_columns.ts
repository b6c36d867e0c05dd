import { dropColumn, idColumn, stateColumn, stringColumn, timestampColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

const OLD_COLUMNS = ["file_hash", "file_size", "remote_file", "remote_file_id"] as const;
const KEPT_COLUMNS = ["id", "state", "nar_hash", "nar_size", "compression", "num_chunks", "holders_count", "created_at"];

/**
 * Drops the file columns from `nar` (migration 10 moved them to `chunk`). Postgres drops them
 * in place. SQLite cannot drop a UNIQUE column, so, as Attic, the table is rebuilt: create
 * `nar_new`, copy, drop `nar`, rename — with foreign keys off (the runner's job), or dropping
 * `nar` would cascade through `object` and `chunkref`. Dropping the table drops its
 * `idx-nar-nar-hash`, which Attic never recreates on SQLite; we recreate it here.
 */
export const m20230112_000005_drop_old_nar_columns: Migration = {
  name: "m20230112_000005_drop_old_nar_columns",
  sqliteForeignKeysOff: true,
  async up({ knex, dialect }) {
    if (dialect.kind !== "sqlite") {
      for (const column of OLD_COLUMNS) await dropColumn(knex, dialect, "nar", column);
      return;
    }
    await knex.schema.createTable("nar_new", (t) => {
      idColumn(t);
      stateColumn(t);
      stringColumn(t, "nar_hash").notNullable();
      t.bigInteger("nar_size").notNullable();
      stringColumn(t, "compression").notNullable();
      t.integer("num_chunks").notNullable().defaultTo(1);
      t.integer("holders_count").notNullable().defaultTo(0);
      timestampColumn(t, "created_at", dialect).notNullable();
    });
    const list = KEPT_COLUMNS.map(() => "??").join(", ");
    await knex.raw(`INSERT INTO ?? (${list}) SELECT ${list} FROM ??`, ["nar_new", ...KEPT_COLUMNS, ...KEPT_COLUMNS, "nar"]);
    await knex.schema.dropTable("nar");
    await knex.schema.renameTable("nar_new", "nar");
    await knex.schema.alterTable("nar", (t) => t.index(["nar_hash"], "idx-nar-nar-hash"));
  },
};
