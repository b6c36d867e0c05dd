import type { Migration } from "./migration.ts";

/** Adds `cache.retention_period` (seconds; NULL = global default, 0 = never expire). */
export const m20221227_000005_add_cache_retention_period: Migration = {
  name: "m20221227_000005_add_cache_retention_period",
  async up({ knex }) {
    await knex.schema.alterTable("cache", (t) => {
      t.integer("retention_period").nullable();
    });
  },
};
