import type { Migration } from "./migration.ts";

/** Adds `nar.completeness_hint` (for the chunk recovery that migration 15 removes again). */
export const m20230112_000006_add_nar_completeness_hint: Migration = {
  name: "m20230112_000006_add_nar_completeness_hint",
  async up({ knex }) {
    await knex.schema.alterTable("nar", (t) => {
      t.boolean("completeness_hint").notNullable().defaultTo(true);
    });
  },
};
