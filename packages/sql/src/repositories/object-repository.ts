import type { Knex } from "knex";
import { forEachConcurrent, type CacheObjectLookup, type CacheObjectsLookup, type NewObject, type ObjectRepository, type ObjectWithNar } from "@attic-ts/core";
import { batches } from "../batch.ts";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import { KnexCacheRepository } from "./cache-repository.ts";
import { cacheObjectsSql } from "./cache-objects-sql.ts";
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

/**
 * Most hashes per PostgreSQL statement in `findPresentPaths` (see there); SQLite takes the
 * whole list as one JSON parameter.
 */
export const PRESENT_PATHS_BATCH = 2500;

/** PostgreSQL statements of one `findPresentPaths` call in flight at once (pool connections). */
export const PRESENT_PATHS_CONCURRENCY = 4;

/**
 * `findPresentPaths` on PostgreSQL: the hashes as one `text[]` and the cache id, each hash
 * probed on the index (`idx-attic-ts-object-cache-hash-nar` gives its `nar_id` without reading
 * the object row).
 */
export const PRESENT_PATHS_POSTGRES = `SELECT q.h AS store_path_hash FROM unnest(?::text[]) AS q(h)
  CROSS JOIN LATERAL (
    SELECT 1 FROM "object" o JOIN "nar" n ON n.id = o.nar_id
    WHERE o.cache_id = ? AND o.store_path_hash = q.h AND n.state = 'V' LIMIT 1
  ) AS hit`;

/**
 * `object` table queries. `knex` is the root instance or a transaction; `reader` runs the
 * read-only lookups (SQLite's read connections; `knex` itself by default).
 */
export class KnexObjectRepository implements ObjectRepository {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
    private readonly reader: Knex = knex,
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

  findObject(cacheName: string, storePathHash: string): Promise<ObjectWithNar | null> {
    return runQuery(this.dialect, "findObject", async () => {
      const row = (await this.reader("object")
        .join("cache", "cache.id", "object.cache_id")
        .join("nar", "nar.id", "object.nar_id")
        .where("cache.name", cacheName)
        .whereNull("cache.deleted_at")
        .andWhere("nar.state", "V")
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

  /** `findCacheObjects` for one hash: one statement per dialect serves both. */
  async findCacheObject(cacheName: string, storePathHash: string): Promise<CacheObjectLookup | null> {
    const lookup = await this.findCacheObjects(cacheName, [storePathHash]);
    return lookup ? { cache: lookup.cache, found: lookup.found.get(storePathHash) ?? null } : null;
  }

  async findCacheObjects(cacheName: string, storePathHashes: readonly string[]): Promise<CacheObjectsLookup | null> {
    const unique = [...new Set(storePathHashes)];
    if (unique.length === 0) {
      // The statement returns the cache row only along with a hash; with none, the row alone.
      const cache = await new KnexCacheRepository(this.knex, this.dialect, this.reader).findCache(cacheName);
      return cache ? { cache, found: new Map() } : null;
    }
    return runQuery(this.dialect, "findCacheObjects", async () => {
      const list = this.dialect.kind === "sqlite" ? JSON.stringify(unique) : unique;
      const result = (await this.reader.raw(cacheObjectsSql(this.dialect.kind), [list, cacheName])) as DbRecord[] | { rows: DbRecord[] };
      const rows = Array.isArray(result) ? result : result.rows;
      if (rows.length === 0) return null;
      const cache = mapCache(rows[0]!, this.dialect, "C_");
      const found = new Map<string, ObjectWithNar>();
      for (const row of rows) {
        if (row.O_id == null || row.N_id == null) continue;
        const object = mapObject(row, this.dialect, "O_");
        found.set(object.storePathHash, { cache, object, nar: mapNar(row, this.dialect, "N_") });
      }
      return { cache, found };
    });
  }

  findPresentPaths(cacheName: string, storePathHashes: readonly string[]): Promise<string[]> {
    return runQuery(this.dialect, "findPresentPaths", async () => {
      const unique = [...new Set(storePathHashes)];
      if (unique.length === 0) return [];
      const present = new Set<string>();
      // The cache's id first, as a constant: joined by name instead, PostgreSQL cannot use the
      // (cache_id, store_path_hash) index and scans the whole object table (245 ms for 10,000
      // hashes against 1,000,000 objects; see BENCHMARKS.md).
      const cache = (await this.reader("cache").where("name", cacheName).whereNull("deleted_at").first("id")) as DbRecord | undefined;
      if (cache === undefined) return [];
      if (this.dialect.kind === "sqlite") {
        // One statement, the list as one JSON parameter: no bound-variable limit, and SQLite
        // probes the (cache_id, store_path_hash) index once per element (10,000 hashes against
        // 1,000,000 objects: 108 ms, against 165 ms as 10 statements of 1,000, on a busy
        // machine). Split across the read connections at once it was slower (368 vs 203 ms).
        const rows = (await this.reader("object")
          .join("nar", "nar.id", "object.nar_id")
          .where("object.cache_id", cache.id as number)
          .andWhere("nar.state", "V")
          .whereRaw("object.store_path_hash IN (SELECT value FROM json_each(?))", [JSON.stringify(unique)])
          .select("object.store_path_hash")) as DbRecord[];
        for (const row of rows) present.add(String(row.store_path_hash));
      } else {
        // Each hash is probed on the (cache_id, store_path_hash) index by a LATERAL subquery,
        // whatever the planner's statistics: a plain `= ANY(...)` or `IN (...)` was planned as
        // a scan of every object of the cache (or the whole table) for long lists, and for any
        // list while the tables had not been ANALYZEd yet (8 s vs 0.6 s for 10,000 hashes
        // against 1,000,000 fresh objects). Slices run on several pool connections at once.
        const cacheId = cache.id as number;
        await forEachConcurrent(batches(unique, PRESENT_PATHS_BATCH), PRESENT_PATHS_CONCURRENCY, async (batch) => {
          const result = (await this.reader.raw(PRESENT_PATHS_POSTGRES, [batch, cacheId])) as { rows: DbRecord[] };
          for (const row of result.rows) present.add(String(row.store_path_hash));
        });
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
