import type { Knex } from "knex";
import type { ChunkRepository, ChunkRow, CompressionType, NewChunk } from "@attic-ts/core";
import { batches } from "../batch.ts";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import { mapChunk, pendingChunkRecord, toNumber, type DbRecord } from "../rows.ts";
import { findAndLockRow } from "./find-and-lock.ts";
import { whereValid } from "./where-valid.ts";

/** `chunk` table queries. `knex` is the root instance or a transaction. */
export class KnexChunkRepository implements ChunkRepository {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
  ) {}

  findAndLockChunk(chunkHash: string, compression: CompressionType): Promise<ChunkRow | null> {
    return runQuery(this.dialect, "findAndLockChunk", async () => {
      // Same compression only: a chunk is shared between NARs stored the same way (Attic).
      const row = await findAndLockRow(this.knex, this.dialect, "chunk", { chunk_hash: chunkHash, compression });
      return row ? mapChunk(row, this.dialect) : null;
    });
  }

  findAndLockChunks(chunkHashes: readonly string[], compression: CompressionType): Promise<Map<string, ChunkRow>> {
    return runQuery(this.dialect, "findAndLockChunks", async () => {
      const found = new Map<string, ChunkRow>();
      for (const batch of batches([...new Set(chunkHashes)], this.dialect.batchSize)) {
        // One valid row per hash (the oldest), locked in the same statement.
        const pick = whereValid(this.knex("chunk").min("id").whereIn("chunk_hash", batch).andWhere({ compression }), this.dialect).groupBy("chunk_hash");
        const update = this.knex("chunk")
          .update({ holders_count: this.knex.raw("?? + 1", ["holders_count"]) })
          .whereIn("id", pick);
        // With row locks (Postgres) the outer `state = 'V'` is re-checked against a row that a
        // concurrent GC just changed. SQLite has one writer and must not get it: its planner
        // would then scan every valid chunk through the state index instead of using rowids.
        if (this.dialect.rowLocks) update.andWhere("state", "V");
        const rows = (await update.returning("*")) as DbRecord[];
        for (const row of rows) {
          const chunk = mapChunk(row, this.dialect);
          found.set(chunk.chunkHash, chunk);
        }
      }
      return found;
    });
  }

  insertPendingChunks(chunks: readonly NewChunk[]): Promise<number[]> {
    return runQuery(
      this.dialect,
      "insertPendingChunks",
      async () => {
        const ids = new Map<string, number>();
        for (const batch of batches(chunks, Math.min(this.dialect.batchSize, 100))) {
          const rows = (await this.knex("chunk")
            .insert(batch.map((chunk) => pendingChunkRecord(chunk, this.dialect)))
            .returning(["id", "remote_file_id"])) as DbRecord[];
          for (const row of rows) ids.set(String(row.remote_file_id), toNumber(row.id));
        }
        // Mapped back by remote_file_id (unique): RETURNING order is not guaranteed.
        return chunks.map((c) => ids.get(c.remoteFileId)!);
      },
      () => "a chunk with one of these remote_file_ids already exists",
    );
  }

  markChunksValid(files: ReadonlyArray<{ id: number; fileHash: string; fileSize: number }>): Promise<void> {
    return runQuery(this.dialect, "markChunksValid", async () => {
      for (const batch of batches(files, Math.min(this.dialect.batchSize, 300))) {
        // One UPDATE over primary keys with CASE per column: an UPDATE ... FROM (VALUES) join
        // made SQLite scan the whole table per batch.
        const whens = batch.map(() => "WHEN ? THEN ?").join(" ");
        await this.knex("chunk")
          .whereIn("id", batch.map((f) => f.id))
          .update({
            state: "V",
            file_hash: this.knex.raw(`CASE ?? ${whens} END`, ["id", ...batch.flatMap((f) => [f.id, f.fileHash])]),
            // Postgres types the CASE from its untyped parameters as text, which a bigint
            // column refuses; SQLite's dynamic typing needs (and gets) no cast.
            file_size: this.knex.raw(this.dialect.kind === "postgres" ? `CAST(CASE ?? ${whens} END AS bigint)` : `CASE ?? ${whens} END`, [
              "id", ...batch.flatMap((f) => [f.id, f.fileSize]),
            ]),
          });
      }
    });
  }

  insertPendingChunk(chunk: NewChunk): Promise<number> {
    return runQuery(
      this.dialect,
      "insertPendingChunk",
      async () => {
        const rows = (await this.knex("chunk").insert(pendingChunkRecord(chunk, this.dialect)).returning("id")) as DbRecord[];
        return toNumber(rows[0]?.id);
      },
      () => `a chunk with remote_file_id ${JSON.stringify(chunk.remoteFileId)} already exists`,
    );
  }

  markChunkValid(id: number, file: { fileHash: string; fileSize: number }): Promise<void> {
    return runQuery(this.dialect, "markChunkValid", async () => {
      await this.knex("chunk").where({ id }).update({ state: "V", file_hash: file.fileHash, file_size: file.fileSize });
    });
  }

  releaseChunks(ids: readonly number[]): Promise<void> {
    return runQuery(this.dialect, "releaseChunks", async () => {
      // One UPDATE per multiplicity: an id listed n times is decremented by n (never below 0).
      const counts = new Map<number, number>();
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      const byTimes = new Map<number, number[]>();
      for (const [id, times] of counts) byTimes.set(times, [...(byTimes.get(times) ?? []), id]);
      for (const [times, sameIds] of byTimes) {
        for (const batch of batches(sameIds, this.dialect.batchSize)) {
          await this.knex("chunk")
            .whereIn("id", batch)
            .update({
              holders_count: this.knex.raw("CASE WHEN ?? > ? THEN ?? - ? ELSE 0 END", [
                "holders_count", times, "holders_count", times,
              ]),
            });
        }
      }
    });
  }

  deleteChunkIfUnused(id: number): Promise<boolean> {
    return runQuery(this.dialect, "deleteChunkIfUnused", async () => {
      // One statement, so a racing find-and-lock or chunkref insert either sees the row gone or
      // makes this DELETE match nothing.
      const count = await this.knex("chunk")
        .where({ id, holders_count: 0 })
        .whereNotExists((q) => q.select(this.knex.raw("1")).from("chunkref").whereRaw("?? = ??", ["chunkref.chunk_id", "chunk.id"]))
        .delete();
      return Number(count) > 0;
    });
  }
}
