// Ingest throughput of the engine (no HTTP; local-fs + SQLite in a temp dir), each figure next
// to a baseline measured in the same run on the same bytes:
//   - compression "none", whole NAR (threshold 0): vs Node's SHA-256 (target >= 0.5x)
//   - compression "none", chunked 16K/64K/256K: vs this disk's small-file limit, i.e. writing
//     the same number of files of the same sizes with temp file + fsync + rename, as local-fs does
//   - zstd level 8, chunked, on real files: vs cores x the `zstd -8 -T1` CLI (target >= 0.85x)
// Run: TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/ingest-throughput.ts [MiB, default 512]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { benchEngine, ADMIN, chunksOf, syntheticInfo, TEMPLATE_CHUNKING } from "./lib/bench-engine.ts";
import { slices } from "./lib/bench-util.ts";
import { fileWriteCost } from "./lib/file-baseline.ts";
import { keystream, mbps } from "./lib/keystream.ts";
import { realisticBytes } from "./lib/realistic-bytes.ts";

const mib = Number(process.argv[2] ?? 512);
const size = mib * 1024 * 1024;
const cores = availableParallelism();
const TMPFS = "/dev/shm";
/** One upload: MB/s, the fraction deduplicated, and the CPU of this process (all threads) during it, ms. */
async function ingest(buf: Buffer, compression: "none" | "zstd", threshold: number, baseDir?: string): Promise<{ speed: number; dedup: number; cpuMs: number }> {
  const narHash = `sha256:${createHash("sha256").update(buf).digest("hex")}`;
  const { engine, cleanup } = await benchEngine({ compression: { type: compression }, chunking: { "nar-size-threshold": threshold, ...TEMPLATE_CHUNKING } }, baseDir);
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const result = await engine.uploads.uploadPath(ADMIN, syntheticInfo(narHash, buf.length), slices(buf));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (result.kind !== "Uploaded") throw new Error(`unexpected ${result.kind}`);
    return { speed: mbps(buf.length, ms), dedup: result.frac_deduplicated ?? 0, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await cleanup();
  }
}

/**
 * CPU per chunk of an upload, and what the target rate would take in CPU for the chunk files
 * alone (their cost measured by the file baseline, without the directory fsync local-fs adds,
 * so a lower bound; chunks deduplicated within the NAR write no file) plus `compressCores` of
 * compression at the CLI's rate.
 */
function atTarget(cpuMs: number, chunks: number, targetMBps: number, compressCores: number, dedup = 0): string {
  const chunksPerSecond = (targetMBps * 1e6 * chunks) / size;
  // A chunk deduplicated within the NAR is not written again.
  const filesCpu = (chunksPerSecond * (1 - dedup) * fileCpu) / 1e6;
  return (
    `CPU ${((cpuMs * 1000) / chunks).toFixed(0)} µs per chunk (all threads); a durable chunk file alone ${fileCpu.toFixed(0)} µs; ` +
    `at the target (${targetMBps.toFixed(0)} MB/s, ${chunksPerSecond.toFixed(0)} chunks/s) the files alone take ${filesCpu.toFixed(1)} CPU-seconds per second` +
    `${compressCores > 0 ? ` and compressing ${compressCores.toFixed(1)} more` : ""}; the machine has ${cores}`
  );
}

function best<T extends { speed: number }>(a: T, b: T): T {
  return a.speed >= b.speed ? a : b;
}

function sha256Baseline(buf: Buffer): number {
  let top = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    createHash("sha256").update(buf).digest();
    top = Math.max(top, mbps(buf.length, performance.now() - t0));
  }
  return top;
}

function zstdCliBaseline(buf: Buffer): number {
  let top = 0;
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const r = spawnSync("zstd", ["-8", "-T1", "-c", "-q"], { input: buf, maxBuffer: buf.length * 2 });
    if (r.status !== 0) throw new Error(`zstd CLI failed: ${r.stderr}`);
    top = Math.max(top, mbps(buf.length, performance.now() - t0));
  }
  return top;
}

const parts: Uint8Array[] = [];
for await (const part of keystream(size)) parts.push(part);
const random = Buffer.concat(parts);

const sha = sha256Baseline(random);
const whole = best(await ingest(random, "none", 0), await ingest(random, "none", 0));
console.log(`ingest none, whole NAR, ${mib} MiB: ${whole.speed.toFixed(0)} MB/s; SHA-256 ${sha.toFixed(0)} MB/s; ratio ${(whole.speed / sha).toFixed(2)} (target >= 0.5)`);

const chunkSizes: number[] = [];
for await (const c of chunksOf(random)) chunkSizes.push(c.length);
const { mbps: files, cpuMicrosPerFile: fileCpu } = await fileWriteCost(chunkSizes, 24);
const chunked = best(await ingest(random, "none", 65536), await ingest(random, "none", 65536));
console.log(
  `ingest none, chunked (${chunkSizes.length} chunks), ${mib} MiB: ${chunked.speed.toFixed(0)} MB/s; writing ${chunkSizes.length} files of those sizes (temp+fsync+rename): ${files.toFixed(0)} MB/s; ratio ${(chunked.speed / files).toFixed(2)}; vs SHA-256 ${(chunked.speed / sha).toFixed(2)}`,
);
console.log(`  ${atTarget(chunked.cpuMs, chunkSizes.length, 0.5 * sha, 0)}`);

const realistic = await realisticBytes(size);
const cli = zstdCliBaseline(realistic);
const zstd = best(await ingest(realistic, "zstd", 65536), await ingest(realistic, "zstd", 65536));
console.log(
  `ingest zstd-8, chunked, ${mib} MiB of /usr files (${(zstd.dedup * 100).toFixed(0)}% deduplicated within the NAR): ${zstd.speed.toFixed(0)} MB/s; zstd -8 -T1 CLI ${cli.toFixed(0)} MB/s x ${cores} cores = ${(cli * cores).toFixed(0)} MB/s; ratio ${(zstd.speed / (cli * cores)).toFixed(2)} (target >= 0.85)`,
);
let realisticChunks = 0;
for await (const _ of chunksOf(realistic)) realisticChunks++;
console.log(`  ${atTarget(zstd.cpuMs, realisticChunks, 0.85 * cli * cores, 0.85 * cores, zstd.dedup)}`);

// The same upload with the database and chunk files on tmpfs: no disk flush per chunk file, so
// what is left is the engine (chunking, hashing, compression on the workers, SQLite statements).
if (existsSync(TMPFS)) {
  const onTmpfs = best(await ingest(realistic, "zstd", 65536, TMPFS), await ingest(realistic, "zstd", 65536, TMPFS));
  console.log(
    `ingest zstd-8, chunked, same bytes, storage and database on tmpfs (${TMPFS}): ${onTmpfs.speed.toFixed(0)} MB/s; ratio to ${cores} x CLI ${(onTmpfs.speed / (cli * cores)).toFixed(2)}`,
  );
}
