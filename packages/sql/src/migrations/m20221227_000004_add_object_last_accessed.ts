import { timestampColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/** Adds `object.last_accessed_at` (bumped on NAR downloads, read by GC retention). */
export const m20221227_000004_add_object_last_accessed: Migration = {
  name: "m20221227_000004_add_object_last_accessed",
  async up({ knex, dialect }) {
    await knex.schema.alterTable("object", (t) => {
      timestampColumn(t, "last_accessed_at", dialect).nullable();
    });
  },
};
