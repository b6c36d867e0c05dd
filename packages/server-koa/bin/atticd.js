#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=4 --no-allocation-site-pretenuring --heap-growing-percent=20
// Launcher for the compiled atticd (built by `tsc -b` into ../dist).
//
// --max-semi-space-size=4 (MiB): an upload allocates fast (every body slice and chunk is a
// fresh buffer), and V8 then grows each young-generation semi-space to 16 MiB, in the main
// isolate and in every compression worker (workers inherit the flags). Capped at 4 MiB, the
// peak RSS of a zstd upload drops by about 30-60 MiB for more, cheaper scavenges
// (BENCHMARKS.md). V8 reads the setting only when an isolate is created, so it must be on the
// command line (this shebang, scripts/start.sh, the Nix wrapper) or in NODE_OPTIONS; setting it
// from here with v8.setFlagsFromString was measured to have no effect.
//
// --no-allocation-site-pretenuring: V8 watches how many objects from each allocation site
// survive scavenges and, past a threshold, allocates that site's objects directly in the old
// generation. An upload keeps its request objects (IncomingMessage, ServerResponse, Koa's
// context, ...) alive for seconds, so after the first uploads V8 tenures those sites, which
// every later request shares. A narinfo request then allocates its context in the old
// generation, where it stays until the next full collection, and the young objects it points
// to survive every scavenge meanwhile: about 20 % of each scavenge was promoted (--trace-gc-nvp),
// the scavenges took 1.7 ms instead of 0.4, and a full collection ran every second. Without
// pretenuring, narinfo requests served about 40 % more per second with p99 under 5 ms instead of
// 7-12 ms (BENCHMARKS.md, eleventh pass).
//
// --heap-growing-percent=20: V8 lets its old generation grow by a factor it picks from how
// cheap its last collections were before it collects again, up to several times what was live.
// An upload promotes garbage steadily (objects that outlive a batch), and with few ArrayBuffers
// left to trigger collections, V8 sometimes let the heap grow to 70 MiB committed for 20 MiB
// live: two 2 GiB uploads in eleven peaked at 163 and 174 MiB against 135-143. With the factor
// fixed at 1.2, eight runs peaked at 132-137 MiB at the same speed, and narinfo throughput was
// unchanged within this machine's noise (BENCHMARKS.md, nineteenth pass).
//
// MALLOC_ARENA_MAX=2: glibc gives each thread that allocates (compression workers, libuv's
// pool, V8's helpers) its own malloc arena, and freed chunk buffers stay resident in each.
// Two arenas took about 20 MiB off the peak RSS of a 2 GiB zstd upload (mean of 3-4 runs,
// BENCHMARKS.md) with no measurable cost in throughput. glibc reads it at process start only.
//
// MALLOC_MMAP_THRESHOLD_=65536: glibc serves allocations of 64 KiB and more with their own
// mmap, but by default raises that threshold each time such a block is freed, up to 32 MiB.
// After the first large chunk buffers were freed, every chunk, body slice and compressed chunk
// then came from the heap, whose freed middle glibc cannot return: the resident heap grew during
// an upload and stayed grown. Pinned (which also turns the adjustment off) at 128 KiB, the peak
// RSS of a 2 GiB zstd upload was 138-148 MiB against 155-166 without (BENCHMARKS.md, sixth
// pass). At 64 KiB the request body's 64 KiB socket reads are mapped and unmapped too instead
// of piling up in the arenas between collections: 141-143 MiB in four runs against 146-174 at
// 128 KiB, at the same upload speed (sixteenth pass).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/atticd.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("atticd: dist/cli/atticd.js is missing: run `npm run build` first\n");
  process.exit(1);
}
const { runAtticd } = await import(entry.href);
process.exit(await runAtticd(process.argv.slice(2)));
