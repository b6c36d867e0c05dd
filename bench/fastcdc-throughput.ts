/**
 * FastCDC throughput against SHA-256, the other per-byte cost of an upload.
 *
 *   npx tsx bench/fastcdc-throughput.ts [MiB]        (default 256 MiB of Attic's fake data)
 *
 * Prints MB/s (10^6 bytes per second, best of 3) for Node's SHA-256, the synchronous cut loop
 * over the whole buffer, and the streaming chunker fed 1 MiB slices, plus the ratio
 * chunking / SHA-256 (target >= 0.7, so chunking never dominates an upload).
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

async function bestOf(label: string, run: () => unknown): Promise<number> {
  let best = Infinity;
  let result: unknown;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    result = await run();
    best = Math.min(best, performance.now() - t0);
  }
  const mbps = data.length / 1e6 / (best / 1000);
  process.stdout.write(`${label.padEnd(34)} ${mbps.toFixed(0).padStart(6)} MB/s  (best ${best.toFixed(0)} ms; ${String(result)})\n`);
  return mbps;
}

function cutLoop(): string {
  const p = cutParameters(SIZES);
  let start = 0;
  let count = 0;
  while (start < data.length) {
    start += findCutPoint(data, start, data.length, true, p);
    count++;
  }
  return `${count} chunks`;
}

async function* oneMiBSlices(): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += MiB) yield data.subarray(offset, offset + MiB);
}

async function streaming(): Promise<string> {
  let count = 0;
  for await (const _chunk of new FastCdcChunker(SIZES).chunk(oneMiBSlices())) count++;
  return `${count} chunks`;
}

process.stdout.write(`input: ${mib} MiB of Attic fake data; FastCDC ${SIZES.minSize}/${SIZES.avgSize}/${SIZES.maxSize}; node ${process.version}\n`);
const sha = await bestOf("SHA-256 (node:crypto)", () => createHash("sha256").update(data).digest("hex").slice(0, 12));
const sync = await bestOf("FastCDC cut loop (whole buffer)", cutLoop);
const stream = await bestOf("FastCDC streaming (1 MiB slices)", streaming);
process.stdout.write(`ratio cut loop / SHA-256:  ${(sync / sha).toFixed(2)}\n`);
process.stdout.write(`ratio streaming / SHA-256: ${(stream / sha).toFixed(2)}\n`);
