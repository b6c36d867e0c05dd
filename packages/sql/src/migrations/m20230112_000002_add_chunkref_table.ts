import { idColumn, stringColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/**
 * Creates `chunkref` (a NAR's ordered chunk list). It first also carried `chunk_hash` and
 * `compression` for the since-removed chunk recovery (dropped by migration 15). Note Attic's
 * index names: `idx-chunk-nar-id` and `idx-chunk-chunk-id` are on `chunkref`.
 */
export const m20230112_000002_add_chunkref_table: Migration = {
  name: "m20230112_000002_add_chunkref_table",
  async up({ knex }) {
    await knex.schema.createTable("chunkref", (t) => {
      idColumn(t);
      t.bigInteger("nar_id").notNullable();
      t.integer("seq").notNullable();
      t.bigInteger("chunk_id").nullable();
      stringColumn(t, "chunk_hash").notNullable();
      stringColumn(t, "compression").notNullable();
      // A deleted chunk leaves a NULL hole (the NAR is then incomplete), never a dangling id.
      t.foreign("chunk_id", "fk_chunkref_chunk").references("id").inTable("chunk").onDelete("SET NULL");
      t.foreign("nar_id", "fk_chunkref_nar").references("id").inTable("nar").onDelete("CASCADE");
    });
    await knex.schema.alterTable("chunkref", (t) => {
      t.index(["nar_id"], "idx-chunk-nar-id");
      t.index(["chunk_id"], "idx-chunk-chunk-id");
    });
  },
};
