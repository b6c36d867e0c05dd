import { stringColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/** Adds `object.created_by` (the uploading token's `sub`). */
export const m20230103_000001_add_object_created_by: Migration = {
  name: "m20230103_000001_add_object_created_by",
  async up({ knex }) {
    await knex.schema.alterTable("object", (t) => {
      stringColumn(t, "created_by").nullable();
    });
  },
};
