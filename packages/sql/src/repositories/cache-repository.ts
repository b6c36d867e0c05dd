import type { Knex } from "knex";
import type { CachePatch, CacheRepository, CacheRow, NewCache } from "@attic-ts/core";
import type { Dialect } from "../dialect.ts";
import { runQuery } from "../errors.ts";
import { mapCache, type DbRecord } from "../rows.ts";

/**
 * `cache` table queries. `knex` is the root instance or a transaction; `reader` runs the
 * read-only lookup (SQLite's read connections; `knex` itself by default).
 */
export class KnexCacheRepository implements CacheRepository {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
    private readonly reader: Knex = knex,
  ) {}

  findCache(name: string): Promise<CacheRow | null> {
    return runQuery(this.dialect, "findCache", async () => {
      const row = (await this.reader("cache").where({ name }).whereNull("deleted_at").first()) as DbRecord | undefined;
      return row ? mapCache(row, this.dialect) : null;
    });
  }

  insertCache(cache: NewCache): Promise<boolean> {
    return runQuery(this.dialect, "insertCache", async () => {
      // ON CONFLICT (name) DO NOTHING, as Attic: a soft-deleted cache keeps its name taken.
      const inserted = await this.knex("cache")
        .insert({
          name: cache.name,
          keypair: cache.keypair,
          is_public: cache.isPublic,
          store_dir: cache.storeDir,
          priority: cache.priority,
          upstream_cache_key_names: JSON.stringify(cache.upstreamCacheKeyNames),
          created_at: this.dialect.toDbTimestamp(cache.createdAt),
          deleted_at: null,
          retention_period: cache.retentionPeriod,
        })
        .onConflict("name")
        .ignore()
        .returning("id");
      return inserted.length > 0;
    });
  }

  updateCache(id: number, patch: CachePatch): Promise<boolean> {
    return runQuery(this.dialect, "updateCache", async () => {
      const values: Record<string, unknown> = {};
      if (patch.keypair !== undefined) values.keypair = patch.keypair;
      if (patch.isPublic !== undefined) values.is_public = patch.isPublic;
      if (patch.storeDir !== undefined) values.store_dir = patch.storeDir;
      if (patch.priority !== undefined) values.priority = patch.priority;
      if (patch.upstreamCacheKeyNames !== undefined) {
        values.upstream_cache_key_names = JSON.stringify(patch.upstreamCacheKeyNames);
      }
      // `null` is meaningful here: back to the global default.
      if (patch.retentionPeriod !== undefined) values.retention_period = patch.retentionPeriod;

      const live = this.knex("cache").where({ id }).whereNull("deleted_at");
      if (Object.keys(values).length === 0) {
        // Nothing to set (knex rejects an empty UPDATE): report whether the cache exists.
        return (await live.first("id")) !== undefined;
      }
      const count = await live.update(values);
      return Number(count) > 0;
    });
  }

  destroyCache(id: number, mode: { soft: boolean; now: Date }): Promise<boolean> {
    return runQuery(this.dialect, "destroyCache", async () => {
      const live = this.knex("cache").where({ id }).whereNull("deleted_at");
      // A hard delete cascades to `object` through fk_object_cache; NARs become GC orphans.
      const count = mode.soft
        ? await live.update({ deleted_at: this.dialect.toDbTimestamp(mode.now) })
        : await live.delete();
      return Number(count) > 0;
    });
  }
}
