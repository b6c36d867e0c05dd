// How an upload's per-batch transaction on SQLite scales with the cache: a claim of 16 new
// chunks (the previous batch marked valid, find-and-lock, insert, holds; what
// `UploadSession.claimChunks` runs) on a database that already holds BENCH_CHUNKS (1,000,000)
// valid chunks, against the same claims on an empty database in the same run. A ratio near 1
// means lookups go by hash; before the fix of c440675 it was about 80 (SQLite walked every
// valid row through the state index).
// Run: npx tsc -b && TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/sqlite-claim-scaling.ts
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteDatabase } from "@attic-ts/db-sqlite";
import { envNumber, load } from "./lib/bench-util.ts";

const existing = envNumber("BENCH_CHUNKS", 1_000_000);
const claims = envNumber("BENCH_CLAIMS", 300);
const hash = () => `sha256:${randomBytes(32).toString("hex")}`;

/** Microseconds per claim transaction on a fresh database holding `prefill` valid chunks. */
async function claimTime(dir: string, prefill: number): Promise<number> {
  const db = await openSqliteDatabase(`sqlite://${join(dir, `claims-${prefill}.sqlite`)}?mode=rwc`);
  try {
    await db.migrate();
    if (prefill > 0) {
      await db.knex.raw(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${prefill})
         INSERT INTO chunk (state, chunk_hash, chunk_size, file_hash, file_size, compression, remote_file, remote_file_id, holders_count, created_at)
         SELECT 'V', 'sha256:' || lower(hex(randomblob(32))), 65536, 'x', 65536, 'none', '{}', 'local:' || i, 0, '2026-01-01T00:00:00.000+00:00' FROM n`,
      );
    }
    const lease = await db.leases.openLease(new Date(Date.now() + 3_600_000));
    let stored: Array<{ id: number; fileHash: string; fileSize: number }> = [];
    const claim = () =>
      db.transaction(async (tx) => {
        if (stored.length > 0) await tx.chunks.markChunksValid(stored);
        const hashes = Array.from({ length: 16 }, hash);
        const found = await tx.leases.findAndLockChunks(lease, hashes, "none");
        const rows = hashes
          .filter((h) => !found.has(h))
          .map((chunkHash) => {
            const name = `${randomUUID()}.chunk`;
            return { chunkHash, chunkSize: 65536, compression: "none" as const, remoteFile: { Local: { name } }, remoteFileId: `local:${name}`, createdAt: new Date() };
          });
        const ids = await tx.leases.insertPendingChunks(lease, rows);
        stored = ids.map((id) => ({ id, fileHash: hash(), fileSize: 65536 }));
      });
    for (let i = 0; i < 20; i++) await claim(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < claims; i++) await claim();
    return ((performance.now() - t0) / claims) * 1000;
  } finally {
    await db.close();
  }
}

const dir = await mkdtemp(join(tmpdir(), "attic-ts-claims-"));
try {
  const empty = await claimTime(dir, 0);
  const full = await claimTime(dir, existing);
  console.log(
    `sqlite claim of 16 chunks: ${full.toFixed(0)} us with ${existing.toLocaleString("en")} chunks; ${empty.toFixed(0)} us on an empty database (same run); ` +
      `ratio ${(full / empty).toFixed(2)}; ${claims} claims each; ${load()}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
