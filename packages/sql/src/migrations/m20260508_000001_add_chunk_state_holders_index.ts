import type { Migration } from "./migration.ts";

/** Adds `idx-chunk-state-holders` (GC's orphan-chunk scan). */
export const m20260508_000001_add_chunk_state_holders_index: Migration = {
  name: "m20260508_000001_add_chunk_state_holders_index",
  async up({ knex }) {
    await knex.schema.alterTable("chunk", (t) => t.index(["state", "holders_count"], "idx-chunk-state-holders"));
  },
};
