import { idColumn, stringColumn, timestampColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/**
 * Creates `object` with its cascading foreign keys and the unique `idx-object-cache-hash`.
 * Attic's file is `m20221227_000003_create_object_table.rs`, but the recorded name is `000002`.
 */
export const m20221227_000002_create_object_table: Migration = {
  name: "m20221227_000002_create_object_table",
  async up({ knex, dialect }) {
    await knex.schema.createTable("object", (t) => {
      idColumn(t);
      t.bigInteger("cache_id").notNullable();
      t.bigInteger("nar_id").notNullable();
      t.string("store_path_hash", 32).notNullable();
      stringColumn(t, "store_path").notNullable();
      stringColumn(t, "references").notNullable();
      stringColumn(t, "system").nullable();
      stringColumn(t, "deriver").nullable();
      stringColumn(t, "sigs").notNullable();
      stringColumn(t, "ca").nullable();
      timestampColumn(t, "created_at", dialect).notNullable();
      t.foreign("cache_id", "fk_object_cache").references("id").inTable("cache").onDelete("CASCADE");
      t.foreign("nar_id", "fk_object_nar").references("id").inTable("nar").onDelete("CASCADE");
    });
    await knex.schema.alterTable("object", (t) => {
      t.unique(["cache_id", "store_path_hash"], { indexName: "idx-object-cache-hash", useConstraint: false });
    });
  },
};
