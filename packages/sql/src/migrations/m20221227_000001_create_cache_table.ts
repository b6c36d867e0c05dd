import { idColumn, stringColumn, timestampColumn, uniqueColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/** Creates `cache` (without `retention_period`, added by migration 5) and `idx-cache-name`. */
export const m20221227_000001_create_cache_table: Migration = {
  name: "m20221227_000001_create_cache_table",
  async up({ knex, dialect }) {
    await knex.schema.createTable("cache", (t) => {
      idColumn(t);
      t.string("name", 50).notNullable();
      uniqueColumn(t, "cache", "name");
      stringColumn(t, "keypair").notNullable();
      t.boolean("is_public").notNullable();
      stringColumn(t, "store_dir").notNullable();
      t.integer("priority").notNullable();
      stringColumn(t, "upstream_cache_key_names").notNullable();
      timestampColumn(t, "created_at", dialect).notNullable();
      timestampColumn(t, "deleted_at", dialect).nullable();
    });
    await knex.schema.alterTable("cache", (t) => t.index(["name"], "idx-cache-name"));
  },
};
