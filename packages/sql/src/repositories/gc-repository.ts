import type { Knex } from "knex";
import type { ChunkRow, GcRepository } from "@attic-ts/core";
import { batches } from "../batch.ts";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import { mapChunk, toNumber, type DbRecord } from "../rows.ts";
import { dropHolds, HOLD_TABLE, LEASE_TABLE } from "./lease-repository.ts";

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
        // A live upload's lease protects its NAR however long the upload takes.
        .whereNotExists((q) => q.select(this.knex.raw("1")).from(HOLD_TABLE).whereRaw("?? = ??", [`${HOLD_TABLE}.nar_id`, "nar.id"]))
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
            .orWhere((p) =>
              p
                .where("chunk.state", "P")
                .andWhere("chunk.created_at", "<", before)
                .whereNotExists((q) =>
                  q.select(this.knex.raw("1")).from(HOLD_TABLE).whereRaw("?? = ??", [`${HOLD_TABLE}.chunk_id`, "chunk.id"]),
                ),
            ),
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

  reapExpiredLeases(now: Date, limit: number): Promise<{ leases: number; holds: number }> {
    return runQuery(this.dialect, "reapExpiredLeases", () =>
      this.knex.transaction(async (trx) => {
        const pick = trx(LEASE_TABLE).select("id").where("expires_at", "<", this.dialect.toDbTimestamp(now)).orderBy("id").limit(limit);
        // A renewal racing this waits for the row lock, then finds the lease gone.
        if (this.dialect.rowLocks) pick.forUpdate().skipLocked();
        const ids = ((await pick) as DbRecord[]).map((row) => toNumber(row.id));
        if (ids.length === 0) return { leases: 0, holds: 0 };
        const holds = await dropHolds(trx, this.dialect, ids);
        for (const batch of batches(ids, this.dialect.batchSize)) await trx(LEASE_TABLE).whereIn("id", batch).delete();
        return { leases: ids.length, holds };
      }),
    );
  }

  referencedFiles(remoteFileIds: readonly string[]): Promise<Set<string>> {
    return runQuery(this.dialect, "referencedFiles", async () => {
      const found = new Set<string>();
      for (const batch of batches([...new Set(remoteFileIds)], this.dialect.batchSize)) {
        const ids = (await this.knex("chunk").whereIn("remote_file_id", batch).pluck("remote_file_id")) as string[];
        for (const id of ids) found.add(String(id));
      }
      return found;
    });
  }

  hasFilesOutside(prefix: string): Promise<boolean> {
    return runQuery(this.dialect, "hasFilesOutside", async () => {
      // LIKE with its wildcards escaped, so a prefix is matched literally on both dialects.
      const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const row = await this.knex("chunk").whereRaw("?? NOT LIKE ? ESCAPE '\\'", ["remote_file_id", pattern]).first("id");
      return row !== undefined;
    });
  }
}
