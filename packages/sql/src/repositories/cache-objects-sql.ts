import type { DialectKind } from "../dialect.ts";
import { CACHE_COLUMNS, NAR_COLUMNS, OBJECT_COLUMNS } from "../rows.ts";

/** `"table"."col" AS "PREFIXcol"`: double-quoted identifiers read the same on SQLite and PostgreSQL. */
function selectList(table: string, columns: readonly string[], prefix: string): string {
  return columns.map((c) => `"${table}"."${c}" AS "${prefix}${c}"`).join(", ");
}

const CACHE = selectList("cache", CACHE_COLUMNS, "C_");
const OBJECT_AND_NAR = `${selectList("object", OBJECT_COLUMNS, "O_")}, ${selectList("nar", NAR_COLUMNS, "N_")}`;
const LIVE_CACHE = `WHERE "cache"."name" = ? AND "cache"."deleted_at" IS NULL`;

/**
 * `findCacheObjects` on SQLite: the hashes as one JSON array (never empty). One row per object
 * found (each with the cache's columns), and a row for the first hash whether found or not, so
 * the cache comes back even when nothing is found; no row when there is no live cache. The
 * hash list is joined to the cache row first, so each hash is one probe of the
 * (cache_id, store_path_hash) index (plugins/sqlite/test/query-plans.test.ts checks the plan);
 * nested in one parenthesized join, SQLite materialized it by scanning the object table.
 */
const SQLITE = `SELECT ${CACHE}, ${OBJECT_AND_NAR}
  FROM "cache"
  JOIN json_each(?) AS "q"
  LEFT JOIN "object" ON "object"."cache_id" = "cache"."id" AND "object"."store_path_hash" = "q"."value"
  LEFT JOIN "nar" ON "nar"."id" = "object"."nar_id" AND "nar"."state" = 'V'
  ${LIVE_CACHE} AND ("nar"."id" IS NOT NULL OR "q"."key" = 0)`;

/**
 * The same on PostgreSQL: the hashes as one `text[]`, each probed on the index by a LATERAL
 * subquery, so the plan does not depend on statistics (see `findPresentPaths`).
 */
const POSTGRES = `SELECT ${CACHE}, "found".*
  FROM "cache"
  LEFT JOIN LATERAL (
    SELECT ${OBJECT_AND_NAR}
    FROM unnest(?::text[]) AS "q"("h")
    JOIN "object" ON "object"."cache_id" = "cache"."id" AND "object"."store_path_hash" = "q"."h"
    JOIN "nar" ON "nar"."id" = "object"."nar_id" AND "nar"."state" = 'V'
  ) AS "found" ON true
  ${LIVE_CACHE}`;

/** The statement of `findCacheObjects`; bindings: the hash list (as the dialect takes it), then the cache name. */
export function cacheObjectsSql(kind: DialectKind): string {
  return kind === "sqlite" ? SQLITE : POSTGRES;
}
