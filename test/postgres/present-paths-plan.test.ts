import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PRESENT_PATHS_INDEX, PRESENT_PATHS_POSTGRES, type KnexDatabase } from "@attic-ts/sql";
import { openPostgresDatabase } from "@attic-ts/db-postgres";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.ts";

// get-missing-paths on PostgreSQL reads each hash's nar_id from attic-ts's covering index, so an
// all-visible page costs no read of the object row (BENCHMARKS.md, fifteenth pass).

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Heap Fetches"?: number;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

const OBJECTS = 5000;
const hashOf = (i: number): string => `h${String(i).padStart(31, "0")}`;

describe("get-missing-paths on PostgreSQL", () => {
  let created: TestDatabase;
  let db: KnexDatabase;
  let cacheId: number;

  beforeAll(async () => {
    created = await createTestDatabase(inject("postgresUrl"), "present-paths");
    db = await openPostgresDatabase(created.url);
    await db.migrate();
    const [cache] = (await db.knex.raw(
      `INSERT INTO cache (name, keypair, is_public, store_dir, priority, upstream_cache_key_names, created_at)
       VALUES ('plan', 'k', false, '/nix/store', 41, '[]', now()) RETURNING id`,
    )).rows as Array<{ id: string }>;
    cacheId = Number(cache!.id);
    // Every tenth NAR is not valid ('P': still being uploaded), so its path is not present.
    await db.knex.raw(
      `INSERT INTO nar (id, state, nar_hash, nar_size, compression, num_chunks, holders_count, created_at)
       SELECT g, CASE WHEN g % 10 = 0 THEN 'P' ELSE 'V' END, 'sha256:' || g, 1, 'none', 1, 0, now() FROM generate_series(1, ?::int) g`,
      [OBJECTS],
    );
    await db.knex.raw(
      `INSERT INTO object (cache_id, nar_id, store_path_hash, store_path, "references", sigs, created_at)
       SELECT ?, g, 'h' || lpad(g::text, 31, '0'), '/nix/store/x', '[]', '[]', now() FROM generate_series(1, ?::int) g`,
      [cacheId, OBJECTS],
    );
    // What autovacuum leaves behind: statistics and a visibility map with every page set.
    await db.knex.raw("VACUUM ANALYZE object");
    await db.knex.raw("VACUUM ANALYZE nar");
  });
  afterAll(async () => {
    await db?.close();
    await created?.drop();
  });

  it("probes the covering index and reads no object row", async () => {
    const asked = [...Array.from({ length: 200 }, (_, i) => hashOf(i * 20 + 1)), ...Array.from({ length: 50 }, (_, i) => `absent${i}`.padEnd(32, "0"))];
    const { rows } = (await db.knex.raw(`EXPLAIN (ANALYZE, FORMAT JSON) ${PRESENT_PATHS_POSTGRES}`, [asked, cacheId])) as {
      rows: Array<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>;
    };
    const plan = nodes(rows[0]!["QUERY PLAN"][0]!.Plan);
    const probe = plan.find((n) => n["Index Name"] === PRESENT_PATHS_INDEX);
    expect(probe, JSON.stringify(plan.map((n) => [n["Node Type"], n["Index Name"]]))).toBeDefined();
    expect(probe!["Node Type"]).toBe("Index Only Scan");
    expect(probe!["Heap Fetches"]).toBe(0);
    expect(probe!["Actual Loops"]).toBe(asked.length);
  });

  it("answers which hashes are present, leaving out paths whose NAR is not valid", async () => {
    const asked = [hashOf(1), hashOf(10), hashOf(4999), hashOf(5000), "absent".padEnd(32, "0"), hashOf(1)];
    const present = await db.objects.findPresentPaths("plan", asked);
    expect(present).toEqual([hashOf(1), hashOf(4999)]);
  });
});
