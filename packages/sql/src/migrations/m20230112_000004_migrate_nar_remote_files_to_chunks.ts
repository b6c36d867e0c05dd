import { dropColumn } from "./columns.ts";
import type { Migration } from "./migration.ts";

const TEMP_COLUMN = "temp_nar_id";

/**
 * Turns every pre-chunking NAR (one stored file) into one valid chunk holding that file plus a
 * `chunkref` (seq 0) from the NAR to it. Set-based, like Attic: the new chunk rows carry their
 * NAR id in a temporary column, which the chunkref insert reads and which is dropped after.
 */
export const m20230112_000004_migrate_nar_remote_files_to_chunks: Migration = {
  name: "m20230112_000004_migrate_nar_remote_files_to_chunks",
  async up({ knex, dialect }) {
    // NOT NULL without default, as Attic: accepted because `chunk` is still empty here.
    await knex.schema.alterTable("chunk", (t) => {
      t.integer(TEMP_COLUMN).notNullable();
    });

    await knex.raw(
      `INSERT INTO ?? (??, ??, ??, ??, ??, ??, ??, ??, ??, ??)
       SELECT ??, ??, ??, ??, ??, ??, ??, ??, ??, 'V' FROM ??`,
      [
        "chunk",
        TEMP_COLUMN, "remote_file", "remote_file_id", "chunk_hash", "chunk_size", "file_hash", "file_size",
        "compression", "created_at", "state",
        "id", "remote_file", "remote_file_id", "nar_hash", "nar_size", "file_hash", "file_size",
        "compression", "created_at",
        "nar",
      ],
    );

    await knex.raw(
      `INSERT INTO ?? (??, ??, ??, ??, ??)
       SELECT ??, ??, ??, ??, 0 FROM ?? WHERE ?? IS NOT NULL`,
      [
        "chunkref",
        "chunk_id", "nar_id", "chunk_hash", "compression", "seq",
        "id", TEMP_COLUMN, "chunk_hash", "compression",
        "chunk", TEMP_COLUMN,
      ],
    );

    await dropColumn(knex, dialect, "chunk", TEMP_COLUMN);
  },
};
