import { idColumn, stateColumn, stringColumn, timestampColumn, uniqueColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/** Creates `chunk` and `idx-chunk-chunk-hash`. */
export const m20230112_000001_add_chunk_table: Migration = {
  name: "m20230112_000001_add_chunk_table",
  async up({ knex, dialect }) {
    await knex.schema.createTable("chunk", (t) => {
      idColumn(t);
      stateColumn(t);
      stringColumn(t, "chunk_hash").notNullable();
      t.bigInteger("chunk_size").notNullable();
      stringColumn(t, "file_hash").nullable();
      t.bigInteger("file_size").nullable();
      stringColumn(t, "compression").notNullable();
      stringColumn(t, "remote_file").notNullable();
      stringColumn(t, "remote_file_id").notNullable();
      uniqueColumn(t, "chunk", "remote_file_id");
      t.integer("holders_count").notNullable().defaultTo(0);
      timestampColumn(t, "created_at", dialect).notNullable();
    });
    await knex.schema.alterTable("chunk", (t) => t.index(["chunk_hash"], "idx-chunk-chunk-hash"));
  },
};
