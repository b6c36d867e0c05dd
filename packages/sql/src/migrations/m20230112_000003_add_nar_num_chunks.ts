import type { Migration } from "./migration.ts";

/** Adds `nar.num_chunks` (existing NARs were single files: default 1). */
export const m20230112_000003_add_nar_num_chunks: Migration = {
  name: "m20230112_000003_add_nar_num_chunks",
  async up({ knex }) {
    await knex.schema.alterTable("nar", (t) => {
      t.integer("num_chunks").notNullable().defaultTo(1);
    });
  },
};
