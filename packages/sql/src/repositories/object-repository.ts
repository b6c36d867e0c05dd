import type { Knex } from "knex";
import type { NewObject, ObjectRepository, ObjectWithNar } from "@attic-ts/core";
import { batches } from "../batch.ts";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import {
  CACHE_COLUMNS,
  mapCache,
  mapNar,
  mapObject,
  NAR_COLUMNS,
  OBJECT_COLUMNS,
  prefixedColumns,
  type DbRecord,
} from "../rows.ts";

/** The columns an object upsert replaces (Attic §2.8); `system` and `last_accessed_at` become NULL. */
const UPSERT_COLUMNS = [
  "nar_id", "store_path", "references", "system", "deriver", "sigs", "ca", "created_at", "created_by",
  "last_accessed_at",
] as const;

/** `object` table queries. `knex` is the root instance or a transaction. */
/** Most hashes per `IN (...)` lookup (see `findPresentPaths`). */
const LOOKUP_BATCH = 1000;

export class KnexObjectRepository implements ObjectRepository {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
  ) {}

  upsertObject(object: NewObject): Promise<void> {
    return runQuery(this.dialect, "upsertObject", async () => {
      await this.knex("object")
        .insert({
          cache_id: object.cacheId,
          nar_id: object.narId,
          store_path_hash: object.storePathHash,
          store_path: object.storePath,
          references: JSON.stringify(object.references),
          system: object.system ?? null,
          deriver: object.deriver,
          sigs: JSON.stringify(object.sigs),
          ca: object.ca,
          created_at: this.dialect.toDbTimestamp(object.createdAt),
          created_by: object.createdBy,
          last_accessed_at: null,
        })
        .onConflict(["cache_id", "store_path_hash"])
        .merge([...UPSERT_COLUMNS]);
    });
  }

  /** The live-cache, valid-NAR join both lookups share. */
  private liveObjects(cacheName: string): Knex.QueryBuilder {
    return this.knex("object")
      .join("cache", "cache.id", "object.cache_id")
      .join("nar", "nar.id", "object.nar_id")
      .where("cache.name", cacheName)
      .whereNull("cache.deleted_at")
      .andWhere("nar.state", "V");
  }

  findObject(cacheName: string, storePathHash: string): Promise<ObjectWithNar | null> {
    return runQuery(this.dialect, "findObject", async () => {
      const row = (await this.liveObjects(cacheName)
        .andWhere("object.store_path_hash", storePathHash)
        .first([
          ...prefixedColumns("object", OBJECT_COLUMNS, "O_"),
          ...prefixedColumns("cache", CACHE_COLUMNS, "C_"),
          ...prefixedColumns("nar", NAR_COLUMNS, "N_"),
        ])) as DbRecord | undefined;
      if (!row) return null;
      return {
        cache: mapCache(row, this.dialect, "C_"),
        object: mapObject(row, this.dialect, "O_"),
        nar: mapNar(row, this.dialect, "N_"),
      };
    });
  }

  findPresentPaths(cacheName: string, storePathHashes: readonly string[]): Promise<string[]> {
    return runQuery(this.dialect, "findPresentPaths", async () => {
      const unique = [...new Set(storePathHashes)];
      const present = new Set<string>();
      // The cache's id first, as a constant: joined by name instead, PostgreSQL cannot use the
      // (cache_id, store_path_hash) index and scans the whole object table (245 ms for 10,000
      // hashes against 1,000,000 objects; see BENCHMARKS.md).
      const cache = (await this.knex("cache").where("name", cacheName).whereNull("deleted_at").first("id")) as DbRecord | undefined;
      if (cache === undefined) return [];
      // Batched: SQLite limits bound variables per statement, and PostgreSQL plans a 1,000-item
      // list as index probes where a 10,000-item one became a scan (measured 130 vs 190 ms).
      for (const batch of batches(unique, Math.min(this.dialect.batchSize, LOOKUP_BATCH))) {
        const rows = (await this.knex("object")
          .join("nar", "nar.id", "object.nar_id")
          .where("object.cache_id", cache.id as number)
          .andWhere("nar.state", "V")
          .whereIn("object.store_path_hash", batch)
          .select("object.store_path_hash")) as DbRecord[];
        for (const row of rows) present.add(String(row.store_path_hash));
      }
      // In the caller's order, each hash once.
      return unique.filter((hash) => present.has(hash));
    });
  }

  touchObject(id: number, now: Date): Promise<void> {
    return runQuery(this.dialect, "touchObject", async () => {
      await this.knex("object").where({ id }).update({ last_accessed_at: this.dialect.toDbTimestamp(now) });
    });
  }
}
