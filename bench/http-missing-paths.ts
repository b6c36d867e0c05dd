// `POST /_api/v1/get-missing-paths` (issue #8): 10,000 hashes (half present) against a cache of
// BENCH_MISSING_OBJECTS (1,000,000) objects, on SQLite and on PostgreSQL, through the real
// atticd. The database is migrated by atticd, then filled with bulk INSERT ... SELECT straight
// into Attic's tables (one nar row per object, as uploads leave them) and ANALYZEd. Figures:
// p50/p99 of BENCH_MISSING_REQUESTS (15) sequential calls after 2 warm-ups (target p50 <= 100 ms),
// next to the same SELECT run directly on the database by this process (the floor).
// PostgreSQL is measured twice: right after the load, and after a VACUUM, which is how
// autovacuum leaves the tables (only then does attic-ts's covering index spare the row reads).
// PostgreSQL: a database on ATTIC_TS_TEST_SERVICES's cluster when set, else a throwaway cluster
// (test/setup/postgres.ts). BENCH_MISSING_DB=sqlite|postgres runs one only.
// BENCH_MISSING_AFTER_FILL="SQL; SQL" runs those statements after the fill (and the ANALYZE), to
// try an index or a VACUUM before building it in.
// BENCH_PROFILE=DIR writes a --cpu-prof of the server into DIR.
// BENCH_MISSING_ANALYZE=0 skips the ANALYZE after the bulk fill (and PostgreSQL's autovacuum on
// the two tables), to show the query without planner statistics, as right after a bulk import;
// a live database has them (autovacuum analyzes a table once 10 % of it changed).
// Run: npx tsc -b && TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/http-missing-paths.ts
import knexFactory, { type Knex } from "knex";
import { join } from "node:path";
import { createTestDatabase, startPostgres } from "../test/setup/postgres.ts";
import { startAtticd, type BenchAtticd } from "./lib/atticd.ts";
import { envNumber, load, median, percentile, storePathHash, verdict } from "./lib/bench-util.ts";

const objects = envNumber("BENCH_MISSING_OBJECTS", 1_000_000);
const queried = envNumber("BENCH_MISSING_HASHES", 10_000);
const requests = envNumber("BENCH_MISSING_REQUESTS", 15);
const only = process.env.BENCH_MISSING_DB;
const BATCH = 100_000;
const analyze = process.env.BENCH_MISSING_ANALYZE !== "0";

const hashes = Array.from({ length: objects }, (_, i) => storePathHash(`object-${i}`));
// Half of the request is present (every (objects / half)-th object), half absent.
const half = Math.floor(queried / 2);
const request = [
  ...Array.from({ length: half }, (_, i) => hashes[Math.floor((i * objects) / half)]!),
  ...Array.from({ length: queried - half }, (_, i) => storePathHash(`absent-${i}`)),
];

async function fill(knex: Knex, kind: "sqlite" | "postgres"): Promise<number> {
  const t0 = performance.now();
  const cache = (await knex("cache").where({ name: "bench" }).first()) as { id: number | string; created_at: unknown };
  const cacheId = Number(cache.id);
  const now = (kind === "postgres" ? knex.raw("now()") : cache.created_at) as Knex.RawBinding;
  if (kind === "postgres" && !analyze) {
    for (const table of ["object", "nar"]) await knex.raw(`ALTER TABLE ?? SET (autovacuum_enabled = false)`, [table]);
  }
  await knex.transaction(async (trx) => {
    // Bulk load: the rows are consistent by construction, so skip the per-row FK triggers.
    if (kind === "postgres") await trx.raw("SET LOCAL session_replication_role = replica");
    const base = Number((await trx("nar").max({ m: "id" }).first())?.m ?? 0);
    for (let start = 0; start < objects; start += BATCH) {
      const slice = hashes.slice(start, start + BATCH);
      if (kind === "postgres") {
        await trx.raw(
          `INSERT INTO nar (state, nar_hash, nar_size, compression, num_chunks, holders_count, created_at)
           SELECT 'V', 'sha256:' || lpad(g::text, 64, '0'), 4096, 'zstd', 1, 0, now() FROM generate_series(?::bigint, ?::bigint) g`,
          [start + 1, start + slice.length],
        );
        await trx.raw(
          `INSERT INTO object (cache_id, nar_id, store_path_hash, store_path, "references", sigs, created_at)
           SELECT ?, ? + t.o, t.h, '/nix/store/' || t.h || '-bench', '[]', '[]', ? FROM unnest(?::text[]) WITH ORDINALITY AS t(h, o)`,
          [cacheId, base + start, now, slice],
        );
      } else {
        await trx.raw(
          `WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)
           INSERT INTO nar (state, nar_hash, nar_size, compression, num_chunks, holders_count, created_at)
           SELECT 'V', 'sha256:' || printf('%064d', i), 4096, 'zstd', 1, 0, ? FROM s`,
          [start + 1, start + slice.length, now],
        );
        await trx.raw(
          `INSERT INTO object (cache_id, nar_id, store_path_hash, store_path, "references", sigs, created_at)
           SELECT ?, ? + key + 1, value, '/nix/store/' || value || '-bench', '[]', '[]', ? FROM json_each(?)`,
          [cacheId, base + start, now, JSON.stringify(slice)],
        );
      }
    }
  });
  if (analyze) await knex.raw("ANALYZE");
  for (const statement of (process.env.BENCH_MISSING_AFTER_FILL ?? "").split(";")) {
    if (statement.trim() !== "") await knex.raw(statement);
  }
  return (performance.now() - t0) / 1000;
}

async function timeHttp(server: BenchAtticd): Promise<{ ms: number[]; missing: number }> {
  const body = JSON.stringify({ cache: "bench", store_path_hashes: request });
  const ms: number[] = [];
  let missing = -1;
  for (let i = 0; i < requests + 2; i++) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/_api/v1/get-missing-paths`, {
      method: "POST",
      headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
      body,
    });
    const text = await res.text();
    const elapsed = performance.now() - t0;
    if (res.status !== 200) throw new Error(`get-missing-paths: ${res.status} ${text.slice(0, 500)}`);
    missing = (JSON.parse(text) as { missing_paths: string[] }).missing_paths.length;
    if (i >= 2) ms.push(elapsed);
  }
  return { ms, missing };
}

/**
 * The same SELECT run directly: with the 10,000 hashes as 10,000 bound parameters (the shape
 * knex's whereIn gives), and with them as ONE parameter (a join with `unnest(?::text[])` on PostgreSQL,
 * `IN (SELECT value FROM json_each(?))` on SQLite), and as 10 SELECTs of 1000 parameters, to
 * show what the query shape costs.
 */
async function timeSql(knex: Knex, kind: "sqlite" | "postgres"): Promise<{ params: number; single: number; batched: number }> {
  const params: number[] = [];
  const single: number[] = [];
  const batched: number[] = [];
  const base = () => knex("object").join("cache", "cache.id", "object.cache_id").join("nar", "nar.id", "object.nar_id").where("cache.name", "bench");
  const many = () => base().whereIn("object.store_path_hash", request).select("object.store_path_hash");
  const one = () =>
    (kind === "postgres"
      ? knex
          .from(knex.raw("unnest(?::text[]) AS q(h)", [request]))
          .join("object", "object.store_path_hash", "q.h")
          .join("cache", "cache.id", "object.cache_id")
          .join("nar", "nar.id", "object.nar_id")
          .where("cache.name", "bench")
      : base().whereRaw("object.store_path_hash IN (SELECT value FROM json_each(?))", [JSON.stringify(request)])
    ).select("object.store_path_hash");
  for (let i = 0; i < requests + 2; i++) {
    let t0 = performance.now();
    const a = (await many()) as unknown[];
    if (i >= 2) params.push(performance.now() - t0);
    t0 = performance.now();
    const b = (await one()) as unknown[];
    if (i >= 2) single.push(performance.now() - t0);
    t0 = performance.now();
    let c = 0;
    for (let k = 0; k < request.length; k += 1000) c += ((await base().whereIn("object.store_path_hash", request.slice(k, k + 1000)).select("object.store_path_hash")) as unknown[]).length;
    if (i >= 2) batched.push(performance.now() - t0);
    if (a.length !== b.length || a.length !== c) throw new Error(`the SELECTs disagree: ${a.length} vs ${b.length} vs ${c} rows`);
  }
  if (process.env.BENCH_EXPLAIN) {
    for (const query of [many(), one()]) {
      const q = query.toSQL();
      const explain = kind === "postgres" ? "EXPLAIN (ANALYZE, BUFFERS)" : "EXPLAIN QUERY PLAN";
      const rows = (await knex.raw(`${explain} ${q.sql}`, q.bindings as Knex.RawBinding[])) as { rows?: Array<Record<string, unknown>> } | Array<Record<string, unknown>>;
      const list = Array.isArray(rows) ? rows : (rows.rows ?? []);
      console.log(list.map((r) => Object.values(r).join(" ").slice(0, 200)).join("\n"));
    }
  }
  return { params: median(params), single: median(single), batched: median(batched) };
}

async function measure(server: BenchAtticd, knex: Knex, kind: "sqlite" | "postgres", state: string): Promise<void> {
  const { ms, missing } = await timeHttp(server);
  if (missing !== queried - half) throw new Error(`expected ${queried - half} missing, got ${missing}`);
  const sql = await timeSql(knex, kind);
  const p50 = median(ms);
  console.log(
    `get-missing-paths ${kind.padEnd(8)} ${queried} hashes vs ${objects} objects (${state}): ` +
      `p50 ${p50.toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms ${verdict(p50, "<=", 100)}; ` +
      `the SELECT alone ${sql.params.toFixed(1)} ms (${queried} parameters), ${sql.single.toFixed(1)} ms (one array parameter), ` +
      `${sql.batched.toFixed(1)} ms (10 SELECTs of 1000); ` +
      `ratio HTTP / SELECT ${(p50 / sql.params).toFixed(2)}; ${load()}`,
  );
}

async function bench(kind: "sqlite" | "postgres", databaseUrl: string | undefined, knexConfig: (server: BenchAtticd) => Knex.Config): Promise<void> {
  const profileDir = process.env.BENCH_PROFILE;
  const nodeFlags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=missing-paths-${kind}.cpuprofile`] : [];
  const server = await startAtticd({ compression: "zstd", nodeFlags, ...(databaseUrl ? { databaseUrl } : {}) });
  const knex = knexFactory(knexConfig(server));
  try {
    await server.createCache("bench", false);
    const seconds = await fill(knex, kind);
    const filled = `filled in ${seconds.toFixed(0)} s, ${analyze ? "then ANALYZEd" : "NOT analyzed: no planner statistics"}`;
    await measure(server, knex, kind, filled);
    if (kind === "postgres" && analyze) {
      // What autovacuum leaves after the inserts: every page all-visible, so an index-only scan
      // of attic-ts's covering index reads no object row. Right after the bulk load it must.
      for (const table of ["object", "nar"]) await knex.raw("VACUUM ANALYZE ??", [table]);
      await measure(server, knex, kind, `${filled}, then VACUUMed`);
    }
  } finally {
    await knex.destroy();
    await server.stop();
  }
}

if (!only || only === "sqlite") {
  await bench("sqlite", undefined, (server) => ({ client: "sqlite3", connection: { filename: join(server.dir, "server.db") }, useNullAsDefault: true }));
}
if (!only || only === "postgres") {
  const shared = process.env.ATTIC_TS_TEST_SERVICES ? (JSON.parse(process.env.ATTIC_TS_TEST_SERVICES) as { postgresUrl?: string }).postgresUrl : undefined;
  const cluster = shared ? undefined : await startPostgres();
  const db = await createTestDatabase(shared ?? cluster!.url, "bench");
  try {
    await bench("postgres", db.url, () => ({ client: "pg", connection: db.url, pool: { min: 0, max: 2 } }));
  } finally {
    await db.drop().catch(() => undefined);
    await cluster?.stop();
  }
}
