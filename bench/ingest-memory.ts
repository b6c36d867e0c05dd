// Peak RSS while the engine ingests one large NAR generated on the fly (never in memory).
// Run: npx tsx --tsconfig tsconfig.base.json --conditions=source bench/ingest-memory.ts [GiB, default 2] [compression, default zstd]
// The target (issue #2) is <= 150 MiB for 2 GiB, independent of NAR size: compare 0.5 and 2 GiB.
import { ADMIN, benchEngine, syntheticInfo } from "./lib/bench-engine.ts";
import { keystream, mbps, sha256Of } from "./lib/keystream.ts";

const gib = Number(process.argv[2] ?? 2);
const compression = (process.argv[3] ?? "zstd") as "none" | "zstd" | "xz";
const size = Math.round(gib * 1024 * 1024 * 1024);

const narHash = await sha256Of(keystream(size));
const { engine, cleanup } = await benchEngine({ compression: { type: compression } });
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const t0 = performance.now();
try {
  const result = await engine.uploads.uploadPath(ADMIN, syntheticInfo(narHash, size), keystream(size));
  const ms = performance.now() - t0;
  clearInterval(sampler);
  const maxRss = process.resourceUsage().maxRSS * 1024;
  console.log(
    `ingest ${gib} GiB (${compression}): ${result.kind}, ${mbps(size, ms).toFixed(0)} MB/s; peak RSS ${(Math.max(peak, maxRss) / 2 ** 20).toFixed(0)} MiB (target <= 150 MiB)`,
  );
} finally {
  clearInterval(sampler);
  await cleanup();
}
