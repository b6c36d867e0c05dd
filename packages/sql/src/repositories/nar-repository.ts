import type { Knex } from "knex";
import type { ChunkRange, ChunkRow, NarRepository, NarRow, NewNar } from "@attic-ts/core";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import { CHUNK_COLUMNS, mapChunk, mapNar, prefixedColumns, toNumber, type DbRecord } from "../rows.ts";
import { findAndLockRow } from "./find-and-lock.ts";
import { whereValid } from "./where-valid.ts";

/**
 * `nar` and `chunkref` queries. `knex` is the root instance or a transaction; `reader` runs the
 * read-only lookups of NAR downloads (SQLite's read connections; `knex` itself by default).
 */
export class KnexNarRepository implements NarRepository {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
    private readonly reader: Knex = knex,
  ) {}

  findAndLockNar(narHash: string): Promise<NarRow | null> {
    return runQuery(this.dialect, "findAndLockNar", async () => {
      const row = await findAndLockRow(this.knex, this.dialect, "nar", { nar_hash: narHash });
      return row ? mapNar(row, this.dialect) : null;
    });
  }

  releaseNar(id: number): Promise<void> {
    return runQuery(this.dialect, "releaseNar", async () => {
      await this.knex("nar")
        .where({ id })
        .andWhere("holders_count", ">", 0)
        .update({ holders_count: this.knex.raw("?? - 1", ["holders_count"]) });
    });
  }

  claimNarHash(narHash: string): Promise<NarRow | null> {
    return runQuery(this.dialect, "claimNarHash", async () => {
      if (this.dialect.rowLocks) {
        // Two uploads of one NAR on two replicas both get here; the second waits for the first
        // to commit and then sees its NAR. Held until this transaction ends.
        await this.knex.raw("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [narHash]);
      }
      // Not SKIP LOCKED here: a racing upload's holders_count update locks the row for a moment,
      // and skipping it would make us commit a second NAR.
      const pick = whereValid(this.knex("nar").select("id").where({ nar_hash: narHash }), this.dialect).limit(1);
      if (this.dialect.rowLocks) pick.forUpdate();
      const rows = (await this.knex("nar")
        .update({ holders_count: this.knex.raw("?? + 1", ["holders_count"]) })
        .whereIn("id", pick)
        .returning("*")) as DbRecord[];
      const row = rows[0];
      if (!row) return null;
      const nar = mapNar(row, this.dialect);
      if (await this.narHasMissingChunks(nar.id)) {
        await this.releaseNar(nar.id);
        return null;
      }
      return nar;
    });
  }

  narHasMissingChunks(narId: number): Promise<boolean> {
    return runQuery(this.dialect, "narHasMissingChunks", async () => {
      // Attic checks `chunk_id IS NULL`; a chunk that exists but is not valid is missing too.
      // On the reader: downloads of long NARs ask this before streaming (in a transaction the
      // reader is the transaction itself).
      const row = await this.reader("chunkref")
        .leftJoin("chunk", "chunk.id", "chunkref.chunk_id")
        .where("chunkref.nar_id", narId)
        .andWhere((q) => q.whereNull("chunk.id").orWhereNot("chunk.state", "V"))
        .first("chunkref.id");
      return row !== undefined;
    });
  }

  insertNar(nar: NewNar): Promise<number> {
    return runQuery(this.dialect, "insertNar", async () => {
      const rows = (await this.knex("nar")
        .insert({
          state: nar.state,
          nar_hash: nar.narHash,
          nar_size: nar.narSize,
          compression: nar.compression,
          num_chunks: nar.numChunks,
          holders_count: 0,
          created_at: this.dialect.toDbTimestamp(nar.createdAt),
        })
        .returning("id")) as DbRecord[];
      return toNumber(rows[0]?.id);
    });
  }

  deleteNar(id: number): Promise<void> {
    return runQuery(this.dialect, "deleteNar", async () => {
      // fk_chunkref_nar and fk_object_nar cascade.
      await this.knex("nar").where({ id }).delete();
    });
  }

  insertChunkRefs(narId: number, chunkIds: readonly number[]): Promise<void> {
    return runQuery(this.dialect, "insertChunkRefs", async () => {
      // Rows are built a batch at a time: a 2 GiB NAR has some 32,000 chunk references.
      const size = this.dialect.batchSize;
      for (let first = 0; first < chunkIds.length; first += size) {
        const rows = chunkIds.slice(first, first + size).map((chunkId, i) => ({ nar_id: narId, seq: first + i, chunk_id: chunkId }));
        await this.knex("chunkref").insert(rows);
      }
    });
  }

  markNarValid(id: number, numChunks: number): Promise<void> {
    return runQuery(this.dialect, "markNarValid", async () => {
      await this.knex("nar").where({ id }).update({ state: "V", num_chunks: numChunks });
    });
  }

  findNarChunks(narId: number, range?: ChunkRange): Promise<Array<ChunkRow | null>> {
    return runQuery(this.dialect, "findNarChunks", async () => {
      const query = this.reader("chunkref")
        .leftJoin("chunk", "chunk.id", "chunkref.chunk_id")
        .where("chunkref.nar_id", narId);
      // By seq, not OFFSET: a page costs the same wherever it starts in the list.
      if (range) query.andWhere("chunkref.seq", ">=", range.from).andWhere("chunkref.seq", "<", range.from + range.limit);
      const rows = (await query
        .orderBy("chunkref.seq", "asc")
        .select(prefixedColumns("chunk", CHUNK_COLUMNS, "CH_"))) as DbRecord[];
      // A NULL chunk_id (chunk deleted, FK set null) or a chunk not in state V is a hole.
      return rows.map((row) => (row.CH_id == null || row.CH_state !== "V" ? null : mapChunk(row, this.dialect, "CH_")));
    });
  }
}
