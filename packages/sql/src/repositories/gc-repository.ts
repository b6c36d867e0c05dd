import type { Knex } from "knex";
import type { ChunkRow, GcRepository } from "@attic-ts/core";
import { batches } from "../batch.ts";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import { mapChunk, toNumber, type DbRecord } from "../rows.ts";

/**
 * Garbage collection queries, in Attic's shapes (`server/src/gc.rs`): each batch picks its rows
 * in a subquery with `LIMIT` (and, on Postgres, `FOR UPDATE SKIP LOCKED` so rows a concurrent
 * upload is locking are left for the next batch) and changes them in the same statement.
 */
export class KnexGcRepository implements GcRepository {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
  ) {}

  cachesWithRetention(defaultSeconds: number): Promise<Array<{ cacheId: number; retentionSeconds: number }>> {
    return runQuery(this.dialect, "cachesWithRetention", async () => {
      // Soft-deleted caches included, as in Attic: their objects expire like any other.
      const rows = (await this.knex("cache")
        .select("id", this.knex.raw("COALESCE(??, ?) AS retention", ["retention_period", defaultSeconds]))
        .whereRaw("COALESCE(??, ?) <> 0", ["retention_period", defaultSeconds])
        .orderBy("id")) as DbRecord[];
      return rows.map((row) => ({ cacheId: toNumber(row.id), retentionSeconds: toNumber(row.retention) }));
    });
  }

  expireObjects(cacheId: number, cutoff: Date): Promise<number> {
    return runQuery(this.dialect, "expireObjects", async () => {
      const at = this.dialect.toDbTimestamp(cutoff);
      const count = await this.knex("object")
        .where("cache_id", cacheId)
        .andWhere("created_at", "<", at)
        .andWhere((q) => q.whereNull("last_accessed_at").orWhere("last_accessed_at", "<", at))
        .delete();
      return Number(count);
    });
  }

  deleteOrphanNars(limit: number): Promise<number> {
    return runQuery(this.dialect, "deleteOrphanNars", async () => {
      // A LEFT JOIN as in Attic: object.nar_id has no index, and SQLite builds an automatic
      // one for a join (not for a correlated NOT EXISTS).
      const pick = this.knex("nar")
        .select("nar.id")
        .leftJoin("object", "object.nar_id", "nar.id")
        .whereNull("object.id")
        .andWhere("nar.state", "V")
        .andWhere("nar.holders_count", 0)
        .limit(limit);
      if (this.dialect.rowLocks) pick.forUpdate("nar").skipLocked();
      // fk_chunkref_nar cascades.
      return Number(await this.knex("nar").whereIn("id", pick).delete());
    });
  }

  deleteStalePendingNars(olderThan: Date, limit: number): Promise<number> {
    return runQuery(this.dialect, "deleteStalePendingNars", async () => {
      const pick = this.knex("nar")
        .select("id")
        .where("state", "P")
        .andWhere("created_at", "<", this.dialect.toDbTimestamp(olderThan))
        .limit(limit);
      if (this.dialect.rowLocks) pick.forUpdate().skipLocked();
      return Number(await this.knex("nar").whereIn("id", pick).delete());
    });
  }

  markOrphanChunksDeleted(pendingOlderThan: Date, limit: number): Promise<number> {
    return runQuery(this.dialect, "markOrphanChunksDeleted", async () => {
      const before = this.dialect.toDbTimestamp(pendingOlderThan);
      const pick = this.knex("chunk")
        .select("chunk.id")
        .leftJoin("chunkref", "chunkref.chunk_id", "chunk.id")
        .whereNull("chunkref.id")
        .andWhere((q) =>
          q
            .where((v) => v.where("chunk.state", "V").andWhere("chunk.holders_count", 0))
            // A pending chunk this old belongs to an upload that died: its hold never drops.
            .orWhere((p) => p.where("chunk.state", "P").andWhere("chunk.created_at", "<", before)),
        )
        .limit(limit);
      if (this.dialect.rowLocks) pick.forUpdate("chunk").skipLocked();
      return Number(await this.knex("chunk").whereIn("id", pick).update({ state: "D" }));
    });
  }

  chunksToDelete(limit: number, afterId = 0): Promise<ChunkRow[]> {
    return runQuery(this.dialect, "chunksToDelete", async () => {
      const rows = (await this.knex("chunk")
        .select("*")
        .where("state", "D")
        .andWhere("id", ">", afterId)
        .orderBy("id")
        .limit(limit)) as DbRecord[];
      return rows.map((row) => mapChunk(row, this.dialect));
    });
  }

  deleteChunkRows(ids: readonly number[]): Promise<number> {
    return runQuery(this.dialect, "deleteChunkRows", async () => {
      let deleted = 0;
      for (const batch of batches(ids, this.dialect.batchSize)) {
        deleted += Number(await this.knex("chunk").whereIn("id", batch).andWhere("state", "D").delete());
      }
      return deleted;
    });
  }
}
