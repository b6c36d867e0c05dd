// Where a chunk's CPU goes in the engine (no HTTP; local-fs + SQLite): BENCH_ROUNDS (3) chunked
// uploads of BENCH_SIZE_MIB (256) of random bytes (compression none, Attic's chunking), each on
// a fresh engine, printing per chunk the process's user and kernel CPU and the main
// thread's busy time, with the SQL statements run per chunk. Next to them, this machine's
// durable-file baseline for the same number of files, made durable as the measured
// BENCH_LOCAL_SYNC mode does (`file`: temp file, fsync, rename, directory fsync; `filesystem`:
// no fsyncs, one `sync -f` for all), measured in the same directory right after each upload.
// BENCH_BASE_DIR places the engine's directory (default: the OS temp dir). On an ext4 without a
// journal (this project's VMs) the kernel's cost of a new file grows with the files deleted
// there in the last minutes, so figures drift from one run to the next; a freshly made
// filesystem as BENCH_BASE_DIR gives repeatable ones (BENCHMARKS.md, seventeenth pass).
// Run: TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/engine-chunk-cost.ts
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { performance } from "node:perf_hooks";
import { PreparedSqliteClient } from "../plugins/sqlite/src/prepared-sqlite-client.ts";
import { ADMIN, benchEngine, chunksOf, syntheticInfo } from "./lib/bench-engine.ts";
import { envNumber, load, localSyncMode, mbps, slices } from "./lib/bench-util.ts";
import { fileWriteCost } from "./lib/file-baseline.ts";

const mib = envNumber("BENCH_SIZE_MIB", 256);
const rounds = envNumber("BENCH_ROUNDS", 3);
const baseDir = process.env.BENCH_BASE_DIR ?? tmpdir();
/** Body slices of 64 KiB, as an HTTP request body arrives. */
const SLICE = 64 * 1024;

// Statements as the driver sees them (after knex), counted for the whole process.
let statements = 0;
const query = PreparedSqliteClient.prototype._query;
PreparedSqliteClient.prototype._query = function (this: PreparedSqliteClient, ...args: Parameters<typeof query>) {
  statements++;
  return query.apply(this, args);
};

const buf = randomBytes(mib * 1024 * 1024);
const narHash = `sha256:${createHash("sha256").update(buf).digest("hex")}`;
// The chunks the engine will cut (the upload reports no count), for the per-chunk figures and
// the baseline's file sizes.
const chunkSizes: number[] = [];
for await (const chunk of chunksOf(buf)) chunkSizes.push(chunk.length);
const chunks = chunkSizes.length;
console.log(`engine chunk cost: ${mib} MiB of random bytes (${chunks} chunks), compression none, local-fs sync ${localSyncMode()}, ${rounds} rounds, in ${baseDir}`);
for (let round = 1; round <= rounds; round++) {
  const { engine, cleanup } = await benchEngine({ compression: { type: "none" } }, baseDir);
  try {
    const s0 = statements;
    const c0 = process.cpuUsage();
    const e0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    const result = await engine.uploads.uploadPath(ADMIN, syntheticInfo(narHash, buf.length), slices(buf, SLICE));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const busy = performance.eventLoopUtilization(e0).active;
    if (result.kind !== "Uploaded") throw new Error(`unexpected ${result.kind}`);
    const per = (micros: number): string => (micros / chunks).toFixed(0);
    console.log(
      `round ${round}: ${mbps(buf.length, ms).toFixed(0)} MB/s; per chunk: user ${per(cpu.user)} µs, kernel ${per(cpu.system)} µs, ` +
        `main thread busy ${per(busy * 1000)} µs, ${((statements - s0) / chunks).toFixed(2)} SQL statements; ${load()}`,
    );
  } finally {
    await cleanup();
  }
  // The baseline of the mode measured: local-fs's two fsyncs a file, or one flush for them all.
  const sync = localSyncMode() === "file" ? "file+dir" : "filesystem";
  const file = await fileWriteCost(chunkSizes, 24, baseDir, sync);
  console.log(`  durable-file baseline (${sync}), same directory, ${chunks} files of the chunks' sizes: ${file.mbps.toFixed(0)} MB/s, ${file.cpuMicrosPerFile.toFixed(0)} µs CPU per file; ${load()}`);
}
