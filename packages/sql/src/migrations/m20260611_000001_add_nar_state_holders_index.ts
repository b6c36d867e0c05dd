import type { Migration } from "./migration.ts";

/** Adds `idx-nar-state-holders` (GC's orphan-NAR scan). */
export const m20260611_000001_add_nar_state_holders_index: Migration = {
  name: "m20260611_000001_add_nar_state_holders_index",
  async up({ knex }) {
    await knex.schema.alterTable("nar", (t) => t.index(["state", "holders_count"], "idx-nar-state-holders"));
  },
};
