// Deduplication (issue #8): two builds of one package that differ slightly, pushed through the
// real atticd (zstd level 8, Attic's template chunking). Version 1 is a copy of
// BENCH_DEDUP_DIR (/usr/lib/python3.11); version 2 is the same tree with every 50th file edited
// (a line inserted at its start) and 3 files added. Figure: bytes stored on disk (chunk files)
// after pushing both, vs a flat zstd cache of the same NARs (each NAR `zstd -8` whole, as a plain
// binary cache stores them); ratio stored / flat (lower is better).
// Run: npx tsc -b && TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/http-dedup.ts
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startAtticd } from "./lib/atticd.ts";
import { load, storePathHash } from "./lib/bench-util.ts";
import { dumpNar } from "./lib/nar-files.ts";
import { uploadNar } from "./lib/upload-client.ts";

const run = promisify(execFile);
const source = process.env.BENCH_DEDUP_DIR ?? "/usr/lib/python3.11";
const MiB = 2 ** 20;
const mi = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

async function zstdSize(path: string): Promise<number> {
  await run("zstd", ["-8", "-T1", "-q", "-f", path, "-o", `${path}.zst`]);
  return (await stat(`${path}.zst`)).size;
}

const work = await mkdtemp(join(tmpdir(), "attic-ts-dedup-"));
const server = await startAtticd({ compression: "zstd" });
try {
  await server.createCache("bench", true);
  const v1 = join(work, "v1");
  const v2 = join(work, "v2");
  await cp(source, v1, { recursive: true, verbatimSymlinks: true });
  await cp(v1, v2, { recursive: true, verbatimSymlinks: true });
  const files = (await readdir(v2, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  let edited = 0;
  for (let i = 0; i < files.length; i += 50) {
    const f = files[i]!;
    await writeFile(f, Buffer.concat([Buffer.from(`# version 2 edit ${i}\n`), await readFile(f)]));
    edited++;
  }
  for (let i = 0; i < 3; i++) await writeFile(join(v2, `added-${i}.txt`), `new file ${i}\n`.repeat(2000));

  const target = { url: server.url, token: server.token, cache: "bench" };
  let flat = 0;
  const flats: number[] = [];
  let narBytes = 0;
  const stored: number[] = [];
  const dedup: number[] = [];
  for (const [i, dir] of [v1, v2].entries()) {
    const path = join(work, `v${i + 1}.nar`);
    const { size, narHash } = await dumpNar(dir, path);
    narBytes += size;
    flats.push(await zstdSize(path));
    flat += flats[i]!;
    const result = await uploadNar(target, { storePathHash: storePathHash(`dedup-${i}`), narHash, size, body: path });
    dedup.push(result.frac_deduplicated ?? 0);
    stored.push((await server.storedBytes()).bytes);
  }
  const total = stored[1]!;
  console.log(
    `dedup ${source} (${files.length} files; v2: ${edited} edited, 3 added): NARs ${mi(narBytes)}; ` +
      `stored by atticd ${mi(total)} (v1 ${mi(stored[0]!)}, v2 adds ${mi(total - stored[0]!)}, ${(dedup[1]! * 100).toFixed(0)}% of v2 deduplicated); ` +
      `flat zstd -8 cache ${mi(flat)} (v1 ${mi(flats[0]!)}, v2 ${mi(flats[1]!)}); ratio stored / flat ${(total / flat).toFixed(2)} (lower is better); ${load()}`,
  );
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
