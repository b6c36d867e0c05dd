/**
 * FastCDC throughput against SHA-256, the other per-byte cost of an upload.
 *
 *   npx tsx bench/fastcdc-throughput.ts [MiB]        (default 256 MiB of Attic's fake data)
 *
 * Prints MB/s (10^6 bytes per second, best of 3) for Node's SHA-256, the synchronous cut loop
 * over the whole buffer, and the streaming chunker fed 1 MiB slices, plus the ratio
 * chunking / SHA-256 (target >= 0.7, so chunking never dominates an upload). Rates are given by
 * wall-clock time and by this process's CPU time; the ratios use CPU time, which is steadier on
 * a shared machine (other processes stretch wall time, not CPU time).
 *
 * Imports the sources directly; `@attic-ts/core` itself (used for ConfigError) resolves to its
 * build, so run `npm run build` first or add `--conditions=source` after `tsx`.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { atticFakeData } from "../packages/core/src/testing/fixtures.ts";
import { cutParameters, findCutPoint } from "../plugins/fastcdc/src/fastcdc.ts";
import { FastCdcChunker } from "../plugins/fastcdc/src/fastcdc-chunker.ts";

const MiB = 1024 * 1024;
const SIZES = { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 };
const RUNS = 3;

const mib = Number(process.argv[2] ?? 256);
if (!Number.isInteger(mib) || mib <= 0) throw new Error(`expected a size in MiB, got ${process.argv[2]}`);
const data = atticFakeData(mib * MiB);

interface Rate {
  /** MB/s by wall-clock time. */
  wall: number;
  /** MB/s by this process's user + system CPU time. */
  cpu: number;
}

async function bestOf(label: string, run: () => unknown): Promise<Rate> {
  let bestWall = Infinity;
  let bestCpu = Infinity;
  let result: unknown;
  for (let i = 0; i < RUNS; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    result = await run();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    bestWall = Math.min(bestWall, wall);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
  }
  const rate = { wall: data.length / 1e3 / bestWall, cpu: data.length / 1e3 / bestCpu };
  process.stdout.write(
    `${label.padEnd(34)} ${rate.wall.toFixed(0).padStart(6)} MB/s wall ${rate.cpu.toFixed(0).padStart(6)} MB/s cpu  (${String(result)})\n`,
  );
  return rate;
}

function cutLoop(input: Uint8Array): string {
  const p = cutParameters(SIZES);
  let start = 0;
  let count = 0;
  while (start < input.length) {
    start += findCutPoint(input, start, input.length, true, p);
    count++;
  }
  return `${count} chunks`;
}

async function* oneMiBSlices(input: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < input.length; offset += MiB) yield input.subarray(offset, offset + MiB);
}

async function streaming(input: Uint8Array): Promise<string> {
  let count = 0;
  for await (const _chunk of new FastCdcChunker(SIZES).chunk(oneMiBSlices(input))) count++;
  return `${count} chunks`;
}

// Untimed warm-up, so that no timed run includes compiling the hot loops.
const warmUp = data.subarray(0, Math.min(data.length, 16 * MiB));
cutLoop(warmUp);
await streaming(warmUp);

process.stdout.write(`input: ${mib} MiB of Attic fake data; FastCDC ${SIZES.minSize}/${SIZES.avgSize}/${SIZES.maxSize}; node ${process.version}\n`);
const sha = await bestOf("SHA-256 (node:crypto)", () => createHash("sha256").update(data).digest("hex").slice(0, 12));
const sync = await bestOf("FastCDC cut loop (whole buffer)", () => cutLoop(data));
const stream = await bestOf("FastCDC streaming (1 MiB slices)", () => streaming(data));
const ratio = (r: Rate): string => `${(r.cpu / sha.cpu).toFixed(2)} (wall-clock: ${(r.wall / sha.wall).toFixed(2)})`;
process.stdout.write(`ratio cut loop / SHA-256:  ${ratio(sync)}\n`);
process.stdout.write(`ratio streaming / SHA-256: ${ratio(stream)}\n`);
