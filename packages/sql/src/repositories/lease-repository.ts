import type { Knex } from "knex";
import { UploadLeaseLostError, type ChunkRow, type CompressionType, type LeaseRepository, type NarRow, type NewChunk, type NewNar } from "@attic-ts/core";
import { batches } from "../batch.ts";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import { mapChunk, pendingChunkRecord, toNumber, type DbRecord } from "../rows.ts";
import { KnexChunkRepository } from "./chunk-repository.ts";
import { KnexNarRepository } from "./nar-repository.ts";

/** attic-ts's lease tables (see the migration `attic_ts_m20261125_000001_leases_and_gc_lock`). */
export const LEASE_TABLE = "attic_ts_lease";
export const HOLD_TABLE = "attic_ts_lease_hold";

type HoldColumn = "chunk_id" | "nar_id";

/**
 * LOCK_IN_ID_ORDER: on PostgreSQL, statements that update many chunk or NAR rows at once lock
 * them in id order first (`SELECT ... ORDER BY id FOR UPDATE`). A plain multi-row UPDATE locks
 * rows in whatever order its plan visits them, so two uploads of the same path (on two
 * replicas) claiming the same chunks, or one closing its lease while another claims, deadlocked
 * and one failed with a 500 (`test/host/replicas.test.ts`, twentieth pass).
 */

/**
 * Gives back every hold of `leaseIds` (one `holders_count` per hold, never below 0) and deletes
 * those holds. Must run inside a transaction together with whatever decided the leases are over.
 * Returns how many holds were dropped.
 */
export async function dropHolds(trx: Knex, dialect: Dialect, leaseIds: readonly number[]): Promise<number> {
  const clamp = dialect.kind === "postgres" ? "GREATEST" : "MAX";
  let dropped = 0;
  for (const ids of batches(leaseIds, Math.min(dialect.batchSize, 200))) {
    const marks = ids.map(() => "?").join(", ");
    for (const [table, column] of [["chunk", "chunk_id"], ["nar", "nar_id"]] as const) {
      // One statement per table: each held row loses as many holders as it has holds here.
      const decrement = `holders_count = ${clamp}(holders_count - (SELECT COUNT(*) FROM ?? h WHERE h.lease_id IN (${marks}) AND h.?? = ??.id), 0)`;
      const held = `SELECT ?? FROM ?? WHERE lease_id IN (${marks}) AND ?? IS NOT NULL`;
      if (dialect.rowLocks) {
        // Rows locked in id order first (see LOCK_IN_ID_ORDER), then updated.
        await trx.raw(
          `WITH target AS (SELECT id FROM ?? WHERE id IN (${held}) ORDER BY id FOR UPDATE)
           UPDATE ?? SET ${decrement} FROM target WHERE ??.id = target.id`,
          [table, column, HOLD_TABLE, ...ids, column, table, HOLD_TABLE, ...ids, column, table, table],
        );
      } else {
        await trx.raw(`UPDATE ?? SET ${decrement} WHERE id IN (${held})`, [table, HOLD_TABLE, ...ids, column, table, column, HOLD_TABLE, ...ids, column]);
      }
    }
    dropped += Number(await trx(HOLD_TABLE).whereIn("lease_id", ids).delete());
  }
  return dropped;
}

/**
 * Fails with `UploadLeaseLostError` unless lease `id` still exists, and keeps it existing until
 * the caller's transaction ends. Without this, a hold taken under a reaped lease would never be
 * given back by garbage collection (nothing names the lease any more). On Postgres the key-share
 * lock orders this against a collector deleting the lease (which locks it FOR UPDATE): either
 * the collector waits and then gives these holds back too, or this waits and finds it gone.
 * Otherwise the collector's two statements (give back, delete) could straddle this commit and
 * delete holds whose increments they never undid. SQLite has one writer: no race to order.
 */
async function requireLease(trx: Knex, dialect: Dialect, id: number): Promise<void> {
  const query = trx(LEASE_TABLE).select("id").where({ id });
  if (dialect.rowLocks) query.forKeyShare();
  if ((await query.first()) === undefined) throw new UploadLeaseLostError(id);
}

/**
 * `LeaseRepository` over knex. Every hold is taken and recorded in one transaction, so a crash
 * can never leave an increment without its record (which would leak it, Attic #66) or a record
 * without its increment (which would give back someone else's hold).
 */
export class KnexLeaseRepository implements LeaseRepository {
  /**
   * Leases `requireLease` found in this repository's transaction (when it is bound to one):
   * the transaction keeps them existing until it ends (Postgres: the key-share lock; SQLite:
   * the write lock), so an upload's claim checks its lease once, not before each of its steps.
   */
  readonly #confirmed = new Set<number>();

  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
  ) {}

  openLease(expiresAt: Date): Promise<number> {
    return runQuery(this.dialect, "openLease", async () => {
      const rows = (await this.knex(LEASE_TABLE).insert({ expires_at: this.dialect.toDbTimestamp(expiresAt) }).returning("id")) as DbRecord[];
      return toNumber(rows[0]?.id);
    });
  }

  renewLease(id: number, expiresAt: Date): Promise<boolean> {
    return runQuery(this.dialect, "renewLease", async () => {
      const n = await this.knex(LEASE_TABLE).where({ id }).update({ expires_at: this.dialect.toDbTimestamp(expiresAt) });
      return Number(n) > 0;
    });
  }

  findAndLockChunk(leaseId: number, chunkHash: string, compression: CompressionType): Promise<ChunkRow | null> {
    return this.holding("findAndLockChunk", leaseId, "chunk_id", async (trx) => {
      const row = await new KnexChunkRepository(trx, this.dialect).findAndLockChunk(chunkHash, compression);
      return { result: row, ids: row ? [row.id] : [] };
    });
  }

  findAndLockChunks(leaseId: number, chunkHashes: readonly string[], compression: CompressionType): Promise<Map<string, ChunkRow>> {
    if (this.dialect.kind === "postgres") return this.findAndLockChunksPostgres(leaseId, chunkHashes, compression);
    return this.holding("findAndLockChunks", leaseId, "chunk_id", async (trx) => {
      const found = await new KnexChunkRepository(trx, this.dialect).findAndLockChunks(chunkHashes, compression);
      return { result: found, ids: [...found.values()].map((c) => c.id) };
    });
  }

  insertPendingChunks(leaseId: number, chunks: readonly NewChunk[]): Promise<number[]> {
    if (this.dialect.kind === "postgres") return this.insertPendingChunksPostgres(leaseId, chunks);
    return this.holding("insertPendingChunks", leaseId, "chunk_id", async (trx) => {
      const ids = await new KnexChunkRepository(trx, this.dialect).insertPendingChunks(chunks);
      return { result: ids, ids };
    });
  }

  findAndLockNar(leaseId: number, narHash: string): Promise<NarRow | null> {
    return this.holding("findAndLockNar", leaseId, "nar_id", async (trx) => {
      const row = await new KnexNarRepository(trx, this.dialect).findAndLockNar(narHash);
      return { result: row, ids: row ? [row.id] : [] };
    });
  }

  insertPendingNar(leaseId: number, nar: NewNar): Promise<number> {
    return this.holding("insertPendingNar", leaseId, "nar_id", async (trx) => {
      const id = await new KnexNarRepository(trx, this.dialect).insertNar({ ...nar, state: "P" });
      await trx("nar").where({ id }).update({ holders_count: 1 });
      return { result: id, ids: [id] };
    });
  }

  closeLease(id: number): Promise<void> {
    return runQuery(this.dialect, "closeLease", () =>
      this.atomically(async (trx) => {
        // The lease row first: on Postgres its row lock orders this against a collector reaping
        // the same lease (which locks it FOR UPDATE), so the holds are given back only once.
        this.#confirmed.delete(id);
        await trx(LEASE_TABLE).where({ id }).delete();
        await dropHolds(trx, this.dialect, [id]);
      }),
    );
  }

  /**
   * Runs `fn` in a transaction of its own, or directly in the caller's when this repository is
   * bound to one (`Database.transaction`): the caller's transaction already makes it atomic, and
   * a nested one would cost a SAVEPOINT and a RELEASE, two more round trips to the one SQLite
   * writer that every upload queues for.
   */
  private atomically<T>(fn: (trx: Knex) => Promise<T>): Promise<T> {
    return this.knex.isTransaction ? fn(this.knex) : this.knex.transaction(fn);
  }

  /**
   * Runs `fn` atomically (see `atomically`) once the lease is known to exist (`requireLease`),
   * with failures mapped as `runQuery` does. Every method that takes holds goes through here.
   */
  private underLease<T>(operation: string, leaseId: number, fn: (trx: Knex) => Promise<T>, onUnique?: () => string): Promise<T> {
    return runQuery(
      this.dialect,
      operation,
      () =>
        this.atomically(async (trx) => {
          if (!this.#confirmed.has(leaseId)) {
            await requireLease(trx, this.dialect, leaseId);
            if (this.knex.isTransaction) this.#confirmed.add(leaseId);
          }
          return fn(trx);
        }),
      onUnique,
    );
  }

  /** Runs `take` and records the holds it took under the lease, in one transaction. */
  private holding<T>(
    operation: string,
    leaseId: number,
    column: HoldColumn,
    take: (trx: Knex) => Promise<{ result: T; ids: readonly number[] }>,
  ): Promise<T> {
    return this.underLease(operation, leaseId, async (trx) => {
      const { result, ids } = await take(trx);
      for (const batch of batches(ids, Math.min(this.dialect.batchSize, 300))) {
        await trx(HOLD_TABLE).insert(batch.map((rowId) => ({ lease_id: leaseId, [column]: rowId })));
      }
      return result;
    });
  }

  /**
   * Postgres, on the upload hot path: the increment and the hold records in one statement per
   * batch (a data-modifying CTE) instead of two. Same rows as
   * `KnexChunkRepository.findAndLockChunks`: the oldest valid row per hash.
   */
  private findAndLockChunksPostgres(leaseId: number, chunkHashes: readonly string[], compression: CompressionType): Promise<Map<string, ChunkRow>> {
    return this.underLease("findAndLockChunks", leaseId, async (trx) => {
      const found = new Map<string, ChunkRow>();
      for (const batch of batches([...new Set(chunkHashes)], this.dialect.batchSize)) {
        const pick = this.knex("chunk").min("id").whereIn("chunk_hash", batch).andWhere({ compression, state: "V" }).groupBy("chunk_hash");
        // Rows locked in id order first (see LOCK_IN_ID_ORDER), then updated.
        const target = pick.toSQL();
        const result = (await trx.raw(
          `WITH target AS (SELECT id FROM chunk WHERE id IN (${target.sql}) AND state = 'V' ORDER BY id FOR UPDATE),
           locked AS (UPDATE chunk SET holders_count = chunk.holders_count + 1 FROM target WHERE chunk.id = target.id AND chunk.state = 'V' RETURNING chunk.*),
           held AS (INSERT INTO ?? (lease_id, chunk_id) SELECT ?, id FROM locked)
           SELECT * FROM locked`,
          [...target.bindings, HOLD_TABLE, leaseId],
        )) as { rows: DbRecord[] };
        for (const row of result.rows) {
          const chunk = mapChunk(row, this.dialect);
          found.set(chunk.chunkHash, chunk);
        }
      }
      return found;
    });
  }

  /** Postgres: `insertPendingChunks` and the hold records in one statement per batch. */
  private insertPendingChunksPostgres(leaseId: number, chunks: readonly NewChunk[]): Promise<number[]> {
    return this.underLease(
      "insertPendingChunks",
      leaseId,
      async (trx) => {
        const ids = new Map<string, number>();
        for (const batch of batches(chunks, 1000)) {
          const insert = this.knex("chunk")
            .insert(batch.map((chunk) => pendingChunkRecord(chunk, this.dialect)))
            .returning(["id", "remote_file_id"])
            .toSQL();
          const result = (await trx.raw(
            `WITH inserted AS (${insert.sql}), held AS (INSERT INTO ?? (lease_id, chunk_id) SELECT ?, id FROM inserted) SELECT * FROM inserted`,
            [...insert.bindings, HOLD_TABLE, leaseId],
          )) as { rows: DbRecord[] };
          for (const row of result.rows) ids.set(String(row.remote_file_id), toNumber(row.id));
        }
        // Mapped back by remote_file_id (unique): RETURNING order is not guaranteed.
        return chunks.map((c) => ids.get(c.remoteFileId)!);
      },
      () => "a chunk with one of these remote_file_ids already exists",
    );
  }
}
