import { idColumn, stateColumn, stringColumn, timestampColumn, uniqueColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/**
 * Creates the original `nar` table, which still held its single stored file (`file_hash`,
 * `file_size`, `remote_file`, `remote_file_id`); migrations 10 and 11 move those to `chunk`.
 * Attic's file is `m20221227_000002_create_nar_table.rs`, but the recorded name is `000003`.
 */
export const m20221227_000003_create_nar_table: Migration = {
  name: "m20221227_000003_create_nar_table",
  async up({ knex, dialect }) {
    await knex.schema.createTable("nar", (t) => {
      idColumn(t);
      stateColumn(t);
      stringColumn(t, "nar_hash").notNullable();
      t.bigInteger("nar_size").notNullable();
      stringColumn(t, "file_hash").nullable();
      t.bigInteger("file_size").nullable();
      stringColumn(t, "compression").notNullable();
      stringColumn(t, "remote_file").notNullable();
      stringColumn(t, "remote_file_id").notNullable();
      uniqueColumn(t, "nar", "remote_file_id");
      t.integer("holders_count").notNullable().defaultTo(0);
      timestampColumn(t, "created_at", dialect).notNullable();
    });
    await knex.schema.alterTable("nar", (t) => t.index(["nar_hash"], "idx-nar-nar-hash"));
  },
};
