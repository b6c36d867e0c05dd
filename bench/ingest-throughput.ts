// Ingest throughput of the engine (no HTTP), against baselines measured in the same run:
//   - compression "none": vs Node's SHA-256 over the same bytes (target >= 0.5x)
//   - compression zstd level 8: vs cores x the `zstd -8` CLI single-threaded (target >= 0.85x)
// Run: npx tsx --tsconfig tsconfig.base.json --conditions=source bench/ingest-throughput.ts [MiB, default 512]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { benchEngine, ADMIN, syntheticInfo } from "./lib/bench-engine.ts";
import { keystream, mbps, sha256Of } from "./lib/keystream.ts";
import { realisticBytes } from "./lib/realistic-bytes.ts";

const mib = Number(process.argv[2] ?? 512);
const size = mib * 1024 * 1024;
const cores = availableParallelism();

async function* slices(buf: Buffer, n = 1024 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += n) yield buf.subarray(i, i + n);
}

async function ingest(buf: Buffer, compression: "none" | "zstd"): Promise<number> {
  const narHash = `sha256:${createHash("sha256").update(buf).digest("hex")}`;
  const { engine, cleanup } = await benchEngine({ compression: { type: compression } });
  try {
    const t0 = performance.now();
    const result = await engine.uploads.uploadPath(ADMIN, syntheticInfo(narHash, buf.length), slices(buf));
    const ms = performance.now() - t0;
    if (result.kind !== "Uploaded") throw new Error(`unexpected ${result.kind}`);
    return mbps(buf.length, ms);
  } finally {
    await cleanup();
  }
}

function sha256Baseline(buf: Buffer): number {
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    createHash("sha256").update(buf).digest();
    best = Math.max(best, mbps(buf.length, performance.now() - t0));
  }
  return best;
}

function zstdCliBaseline(buf: Buffer): number {
  let best = 0;
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const r = spawnSync("zstd", ["-8", "-T1", "-c", "-q"], { input: buf, maxBuffer: buf.length * 2 });
    if (r.status !== 0) throw new Error(`zstd CLI failed: ${r.stderr}`);
    best = Math.max(best, mbps(buf.length, performance.now() - t0));
  }
  return best;
}

const randomParts: Uint8Array[] = [];
for await (const part of keystream(size)) randomParts.push(part);
const random = Buffer.concat(randomParts);
const sha = sha256Baseline(random);
const none = Math.max(await ingest(random, "none"), await ingest(random, "none"));
console.log(`ingest, compression none, ${mib} MiB incompressible: ${none.toFixed(0)} MB/s; SHA-256 ${sha.toFixed(0)} MB/s; ratio ${(none / sha).toFixed(2)} (target >= 0.5)`);

const realistic = await realisticBytes(size);
const cli = zstdCliBaseline(realistic);
const zstd = Math.max(await ingest(realistic, "zstd"), await ingest(realistic, "zstd"));
console.log(
  `ingest, zstd level 8, ${mib} MiB of /usr files: ${zstd.toFixed(0)} MB/s; zstd -8 -T1 CLI ${cli.toFixed(0)} MB/s x ${cores} cores = ${(cli * cores).toFixed(0)} MB/s; ratio ${(zstd / (cli * cores)).toFixed(2)} (target >= 0.85)`,
);
void sha256Of;
