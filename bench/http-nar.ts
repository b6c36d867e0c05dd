// NARs through HTTP (issue #8), against the real atticd (local-fs + SQLite, zstd as Attic's
// default; the NARs are incompressible bytes, so the stored chunks are about NAR-sized):
//   1. peak RSS (VmHWM of the atticd process) while it ingests a BENCH_INGEST_MIB (2048) NAR
//      streamed by this process (target <= 150 MiB);
//   2. download throughput of a BENCH_DOWNLOAD_MIB (1024) multi-chunk NAR with curl, vs nginx
//      serving the same bytes (downloaded from atticd, checked against the NAR hash) as a static
//      file (target >= 0.8x), median of BENCH_RUNS (3), alternating; next to it, Node serving
//      the same file through user space (bench/lib/node-static.mjs), the CPU each server and
//      curl spend per GiB, and this process reading the NAR's chunk files in order (no HTTP);
//   3. peak RSS while serving BENCH_CONCURRENT (32) downloads at once of a BENCH_CONCURRENT_MIB
//      (64) NAR, each read to the end, on a freshly restarted server (target <= 200 MiB);
//   4. whether the server survives 8 clients that close the connection mid-NAR (printed, so a
//      crash does not hide the figures above).
// Run: npx tsc -b && TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/http-nar.ts
// BENCH_PROFILE=DIR writes a --cpu-prof of the server into DIR (Node's default names, one per
// process: the restarted server's is the later one); BENCH_NODE_FLAGS adds node flags
// to the server (space-separated, e.g. "--trace-gc"; its output lands in the server log).
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { get } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import knexFactory from "knex";
import { startAtticd, MiB } from "./lib/atticd.ts";
import { envNumber, load, mbps, median, storePathHash, verdict } from "./lib/bench-util.ts";
import { keystream, sha256Of } from "./lib/keystream.ts";
import { startNginx } from "./lib/nginx.ts";
import { startNodeStatic, type NodeStatic } from "./lib/node-static.ts";
import { curlWithCpu, familyCpuMs } from "./lib/cpu-time.ts";
import { uploadNar } from "./lib/upload-client.ts";

const run = promisify(execFile);
const ingestMib = envNumber("BENCH_INGEST_MIB", 2048);
const downloadMib = envNumber("BENCH_DOWNLOAD_MIB", 1024);
const concurrent = envNumber("BENCH_CONCURRENT", 32);
const concurrentMib = envNumber("BENCH_CONCURRENT_MIB", 64);
const runs = envNumber("BENCH_RUNS", 3);
/** BENCH_NAR_COMPRESSION=none stores the chunks as they are (same sizes: the bytes are incompressible). */
const compression = process.env.BENCH_NAR_COMPRESSION === "none" ? "none" : "zstd";
const profileDir = process.env.BENCH_PROFILE;
const mi = (b: number) => `${(b / MiB).toFixed(0)} MiB`;

/** Reads the first `limit` bytes of `url`, then closes the connection. */
function partialGet(url: string, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve(got);
    };
    const req = get(url, { agent: false }, (res) => {
      res.on("error", (err) => finish(err));
      if (res.statusCode !== 200) {
        res.resume();
        return finish(new Error(`GET ${url}: ${res.statusCode}`));
      }
      res.on("data", (d: Buffer) => {
        got += d.length;
        if (got >= limit) {
          finish();
          res.destroy();
        }
      });
      res.on("end", () => finish(Number.isFinite(limit) && got < limit ? new Error(`GET ${url}: body ended after ${got} bytes`) : undefined));
    });
    req.on("error", (err) => finish(err));
  });
}

const work = await mkdtemp(join(tmpdir(), "attic-ts-narbench-"));
const extraFlags = (process.env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
const server = await startAtticd({
  compression,
  nodeFlags: [...extraFlags, ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])],
});
let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
let nodeStatic: NodeStatic | undefined;
/** One download: MB/s, and CPU per GiB of the server and of curl, ms. */
interface Served {
  speed: number;
  serverMs: number;
  curlMs: number;
}
try {
  await server.createCache("bench", true);
  const target = { url: server.url, token: server.token, cache: "bench" };
  const idle = await server.rss();

  // 1. Ingest: peak RSS.
  const ingestSize = ingestMib * MiB;
  const ingestHash = await sha256Of(keystream(ingestSize, MiB, 7));
  await server.resetPeak();
  let t0 = performance.now();
  const up = await uploadNar(target, { storePathHash: storePathHash("ingest"), narHash: ingestHash, size: ingestSize, body: () => keystream(ingestSize, MiB, 7) });
  const ingestSpeed = mbps(ingestSize, performance.now() - t0);
  const ingestPeak = await server.peakRss();
  console.log(
    `http ingest ${ingestMib} MiB NAR (${compression}): ${up.kind}, ${ingestSpeed.toFixed(0)} MB/s; atticd VmHWM ${mi(ingestPeak)} (RSS idle ${mi(idle)}) ${verdict(ingestPeak / MiB, "<=", 150)}; ${load()}`,
  );

  // 2. Download throughput vs nginx.
  const size = downloadMib * MiB;
  const hash = storePathHash("download");
  const narHash = await sha256Of(keystream(size, MiB, 8));
  t0 = performance.now();
  await uploadNar(target, { storePathHash: hash, narHash, size, body: () => keystream(size, MiB, 8) });
  const uploadSpeed = mbps(size, performance.now() - t0);
  const root = join(work, "root");
  await mkdir(join(root, "bench", "nar"), { recursive: true });
  const file = join(root, "bench", "nar", `${hash}.nar`);
  const narUrl = `/bench/nar/${hash}.nar`;
  const first = await curlWithCpu(`${server.url}${narUrl}`, file);
  const { stdout: check } = await run("sh", ["-c", `${compression === "zstd" ? "zstd -dcq" : "cat"} '${file}' | sha256sum`], { maxBuffer: 1 << 16 });
  if (`sha256:${check.split(" ")[0]}` !== narHash) throw new Error(`downloaded NAR does not decompress to the uploaded one`);
  nginx = await startNginx(root, "application/x-nix-nar");
  nodeStatic = await startNodeStatic(root);
  // Alternating, each server's speed, its CPU (all processes and threads) and curl's, per GiB.
  const servers = { atticd: { url: server.url, pid: server.pid }, nginx, node: nodeStatic };
  const seen = { atticd: [] as Served[], nginx: [] as Served[], node: [] as Served[] };
  for (let r = 0; r < runs; r++) {
    for (const [name, { url, pid }] of Object.entries(servers) as Array<[keyof typeof servers, { url: string; pid: number }]>) {
      const cpuBefore = await familyCpuMs(pid);
      const got = await curlWithCpu(`${url}${narUrl}`);
      if (got.bytes !== first.bytes) throw new Error(`${name} served ${got.bytes} bytes, atticd ${first.bytes}`);
      const perGiB = (ms: number) => (ms * 1024 * MiB) / got.bytes;
      seen[name].push({ speed: got.speed, serverMs: perGiB((await familyCpuMs(pid)) - cpuBefore), curlMs: perGiB(got.cpuMs) });
    }
  }
  const speedOf = (name: keyof typeof seen) => median(seen[name].map((x) => x.speed));
  const runsOf = (name: keyof typeof seen) => seen[name].map((x) => x.speed.toFixed(0)).join("/");
  const speed = speedOf("atticd");
  const base = speedOf("nginx");
  const nodeSpeed = speedOf("node");
  console.log(
    `http NAR download ${downloadMib} MiB (${first.bytes} bytes served, uploaded at ${uploadSpeed.toFixed(0)} MB/s): atticd ${speed.toFixed(0)} MB/s (runs ${runsOf("atticd")}); ` +
      `nginx ${base.toFixed(0)} MB/s (runs ${runsOf("nginx")}); ratio ${(speed / base).toFixed(2)} ${verdict(speed / base, ">=", 0.8)}; ${load()}`,
  );
  console.log(
    `  Node serving the same bytes as one file (bench/lib/node-static.mjs: 256 KiB reads into reused buffers): ${nodeSpeed.toFixed(0)} MB/s (runs ${runsOf("node")}); ` +
      `atticd / that ${(speed / nodeSpeed).toFixed(2)}; that / nginx ${(nodeSpeed / base).toFixed(2)}`,
  );
  const cpu = (name: keyof typeof seen) =>
    `${name} ${median(seen[name].map((x) => x.serverMs)).toFixed(0)} ms + curl ${median(seen[name].map((x) => x.curlMs)).toFixed(0)} ms (runs ${seen[name].map((x) => `${x.serverMs.toFixed(0)}+${x.curlMs.toFixed(0)}`).join(", ")})`;
  console.log(`  CPU per GiB served (server's processes and threads + the client), medians: ${cpu("atticd")}; ${cpu("node")}; ${cpu("nginx")}; ${availableParallelism()} cores`);

  // What reading the same chunk files in NAR order costs Node here (readFile, 2 files ahead as
  // Attic's prefetch), without HTTP: the floor for a server that stores NARs as chunk files.
  const knex = knexFactory({ client: "sqlite3", connection: { filename: join(server.dir, "server.db") }, useNullAsDefault: true });
  const names = (
    (await knex("chunkref")
      .join("chunk", "chunk.id", "chunkref.chunk_id")
      .join("object", "object.nar_id", "chunkref.nar_id")
      .where("object.store_path_hash", hash)
      .orderBy("chunkref.seq")
      .select("chunk.remote_file")) as Array<{ remote_file: string }>
  ).map((r) => (JSON.parse(r.remote_file) as { Local: { name: string } }).Local.name);
  await knex.destroy();
  const reads: number[] = [];
  for (let r = 0; r < runs; r++) {
    t0 = performance.now();
    let bytes = 0;
    const pending: Array<Promise<Buffer>> = [];
    for (let i = 0; i < names.length; i++) {
      while (pending.length < 3 && i + pending.length < names.length) {
        const n = names[i + pending.length]!;
        pending.push(readFile(join(server.storage, n[0]!, n.slice(0, 2), n)));
      }
      bytes += (await pending.shift()!).length;
    }
    reads.push(mbps(bytes, performance.now() - t0));
  }
  console.log(
    `reading the NAR's ${names.length} chunk files in order from Node (readFile, 2 ahead, no HTTP): ${median(reads).toFixed(0)} MB/s; atticd / that ${(speed / median(reads)).toFixed(2)}; ${load()}`,
  );

  // 3. Many downloads at once: peak RSS. Each client reads a whole NAR of BENCH_CONCURRENT_MIB.
  const csize = concurrentMib * MiB;
  const chash = storePathHash("concurrent");
  await uploadNar(target, { storePathHash: chash, narHash: await sha256Of(keystream(csize, MiB, 9)), size: csize, body: () => keystream(csize, MiB, 9) });
  // A fresh process, so the figure is what serving costs, not garbage left by the uploads.
  await server.restart();
  const before = await server.rss();
  t0 = performance.now();
  const got = await Promise.all(Array.from({ length: concurrent }, () => partialGet(`${server.url}/bench/nar/${chash}.nar`, Infinity))).catch((err: unknown) => {
    throw new Error(`${concurrent} downloads at once failed: ${String(err)}\natticd log tail:\n${server.log().slice(-3000)}`);
  });
  const total = got.reduce((a, b) => a + b, 0);
  const concurrentSpeed = mbps(total, performance.now() - t0);
  const servePeak = await server.peakRss();
  console.log(
    `http ${concurrent} NAR downloads at once (${concurrentMib} MiB NAR each, read to the end): ${concurrentSpeed.toFixed(0)} MB/s in total; atticd VmHWM ${mi(servePeak)} (fresh process, RSS ${mi(before)} before) ${verdict(servePeak / MiB, "<=", 200)}; ${load()}`,
  );

  // 4. A client that goes away mid-NAR must not take the server down.
  await Promise.all(Array.from({ length: 8 }, () => partialGet(`${server.url}${narUrl}`, 4 * MiB)));
  await new Promise((r) => setTimeout(r, 1000));
  const alive = await fetch(`${server.url}/`).then((r) => r.status === 200, () => false);
  console.log(
    `http 8 NAR downloads abandoned after 4 MiB: atticd ${alive ? "still serving" : `CRASHED:\n${server.log().slice(-1500)}`}`,
  );
} finally {
  await nginx?.stop();
  await nodeStatic?.stop();
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
