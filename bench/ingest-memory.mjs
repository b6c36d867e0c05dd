// Peak RSS of the engine while it ingests one large NAR generated on the fly by another process
// and read from a pipe (never held in memory), next to the RSS of the same engine idle. Plain JS on the built packages, so the
// figure is the server's, without a TypeScript loader in the process.
// Run: npx tsc -b && MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=4 --no-allocation-site-pretenuring --heap-growing-percent=20 bench/ingest-memory.mjs [GiB, default 2] [compression, default zstd]
// (atticd's settings, from its shebang; the script names them when any is missing).
// Target (issue #2): <= 150 MiB for 2 GiB, independent of NAR size: compare 0.5 and 2 GiB.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createEngine } from "@attic-ts/core";
import { fastcdcPlugin } from "@attic-ts/chunker-fastcdc";
import { nativeCompressionPlugin } from "@attic-ts/compression";
import { sqlitePlugin } from "@attic-ts/db-sqlite";
import { localFsPlugin } from "@attic-ts/storage-local-fs";
import { readAtticdShebang } from "../scripts/atticd-shebang.mjs";

// Run it with atticd's node flags (the shebang of packages/server-koa/bin/atticd.js), so the
// figure is the server's: V8 reads them only at start-up.
// Read from the shebang itself, so a setting added there cannot be missed here.
const shebang = readAtticdShebang();
const missingFlags = shebang.flags.filter((flag) => !process.execArgv.includes(flag));
const missingEnv = Object.entries(shebang.env).filter(([name, value]) => process.env[name] !== value);
if (missingFlags.length > 0 || missingEnv.length > 0) {
  const env = Object.entries(shebang.env).map(([name, value]) => `${name}=${value}`);
  console.error(`run as: ${[...env, "node", ...shebang.flags].join(" ")} bench/ingest-memory.mjs ... (atticd's settings)`);
  process.exit(2);
}

const gib = Number(process.argv[2] ?? 2);
const compression = process.argv[3] ?? "zstd";
const size = Math.round(gib * 2 ** 30);
const MiB = 2 ** 20;
const run = promisify(execFile);

const PIPE = fileURLToPath(new URL("./lib/keystream-pipe.mjs", import.meta.url));

/** The NAR's hash, computed by the generator process (nothing of it is allocated here). */
async function narHashOf(total, seed) {
  const { stdout } = await run(process.execPath, [PIPE, String(total), String(seed), "hash"]);
  return stdout.trim();
}

/** The NAR's bytes as a pipe from the generator process (64 KiB reads). */
function narBytes(total, seed) {
  const child = spawn(process.execPath, [PIPE, String(total), String(seed)], { stdio: ["ignore", "pipe", "inherit"] });
  return child.stdout;
}

let counter = 0;
function info(narHash, narSize) {
  const hash = String(counter++).padStart(32, "0");
  return { cache: "bench", store_path_hash: hash, store_path: `/nix/store/${hash}-bench`, references: [], system: null, deriver: null, sigs: [], ca: null, nar_hash: narHash, nar_size: narSize };
}

const admin = { sub: "bench", grants: [["*", { pull: true, push: true, delete: false, createCache: true, configureCache: false, configureCacheRetention: false, destroyCache: false }]] };
const dir = mkdtempSync(join(tmpdir(), "attic-ts-bench-"));
const engine = await createEngine({
  plugins: [localFsPlugin, sqlitePlugin, fastcdcPlugin, nativeCompressionPlugin],
  config: {
    database: { url: `sqlite://${join(dir, "server.db")}?mode=rwc` },
    // BENCH_LOCAL_SYNC=filesystem: batched flushes instead of an fsync per chunk file (docs/differences-from-attic.md).
    storage: { type: "local", path: join(dir, "storage"), sync: process.env.BENCH_LOCAL_SYNC ?? "file" },
    chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
    compression: { type: compression },
  },
});
try {
  await engine.caches.create(admin, "bench", { keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] });
  // A 1 MiB upload first, so the idle figure includes the compressor's warm workers.
  await engine.uploads.uploadPath(admin, info(await narHashOf(MiB, 9), MiB), narBytes(MiB, 9));
  const idle = process.memoryUsage().rss;
  const narHash = await narHashOf(size, 1);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  const result = await engine.uploads.uploadPath(admin, info(narHash, size), narBytes(size, 1));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.resourceUsage().maxRSS * 1024);
  console.log(
    `ingest ${gib} GiB (${compression}): ${result.kind}, ${(size / 1e6 / seconds).toFixed(0)} MB/s; RSS idle ${(idle / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB (target <= 150 MiB)`,
  );
} finally {
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
}
