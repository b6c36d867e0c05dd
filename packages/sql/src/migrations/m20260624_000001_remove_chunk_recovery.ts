import { dropColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

/** Drops the chunk-recovery columns: `chunkref.chunk_hash`, `chunkref.compression`, `nar.completeness_hint`. */
export const m20260624_000001_remove_chunk_recovery: Migration = {
  name: "m20260624_000001_remove_chunk_recovery",
  async up({ knex, dialect }) {
    await dropColumn(knex, dialect, "chunkref", "chunk_hash");
    await dropColumn(knex, dialect, "chunkref", "compression");
    await dropColumn(knex, dialect, "nar", "completeness_hint");
  },
};
