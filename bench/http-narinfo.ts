// narinfo lookups (issue #8): requests/s and p50/p99 latency with `wrk --latency` against the
// real atticd (SQLite, a public cache of BENCH_NARINFO_OBJECTS (2000) small NARs) and against
// nginx serving the very same narinfo bytes, fetched from atticd, as static files on the same
// machine. A wrk Lua script picks a random path per request. Then the same for misses (random
// valid hashes that are absent: 404 from both), and for "cold" misses: a fresh random hash per
// request, which atticd's narinfo cache cannot answer (every request runs the database lookup),
// where the hit and miss lists repeat within its TTL. Targets: >= 0.5x nginx's requests/s,
// p99 < 5 ms.
// wrk: BENCH_WRK_THREADS (1), BENCH_WRK_CONNECTIONS (16), BENCH_WRK_SECONDS (10); median of
// BENCH_RUNS (3) runs, servers alternating.
// BENCH_PROFILE=DIR writes a --cpu-prof of the server into DIR. BENCH_NARINFO_KINDS=hit,miss,cold
// (the default) picks the lines to run.
// Run: npx tsc -b && TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/http-narinfo.ts
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAtticd } from "./lib/atticd.ts";
import { envNumber, load, median, storePathHash, verdict } from "./lib/bench-util.ts";
import { startNginx } from "./lib/nginx.ts";
import { uploadAll } from "./lib/upload-client.ts";
import { runWrk, writePathScript, writeRandomHashScript, type WrkResult } from "./lib/wrk.ts";

const objects = envNumber("BENCH_NARINFO_OBJECTS", 2000);
const runs = envNumber("BENCH_RUNS", 3);
const wrkOptions = {
  threads: envNumber("BENCH_WRK_THREADS", 1),
  connections: envNumber("BENCH_WRK_CONNECTIONS", 16),
  seconds: envNumber("BENCH_WRK_SECONDS", 10),
};

const work = await mkdtemp(join(tmpdir(), "attic-ts-narinfo-"));
const profileDir = process.env.BENCH_PROFILE;
const server = await startAtticd({ compression: "zstd", nodeFlags: profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, "--cpu-prof-name=narinfo.cpuprofile"] : [] });
let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
let plain: Server | undefined;
try {
  await server.createCache("bench", true);
  // Small NARs (1-8 KiB, below the chunking threshold), as most store paths' narinfos describe.
  const nars = Array.from({ length: objects }, (_, i) => {
    const bytes = randomBytes(1024 + (i % 8) * 1024);
    return {
      storePathHash: storePathHash(`narinfo-bench-${i}`),
      narHash: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
      size: bytes.length,
      body: async function* () {
        yield bytes;
      },
    };
  });
  await uploadAll({ url: server.url, token: server.token, cache: "bench" }, nars, 8);

  // The same bytes as static files for nginx.
  const root = join(work, "root");
  await mkdir(join(root, "bench"), { recursive: true });
  for (const n of nars) {
    const res = await fetch(`${server.url}/bench/${n.storePathHash}.narinfo`);
    if (res.status !== 200) throw new Error(`narinfo ${n.storePathHash}: ${res.status}`);
    await writeFile(join(root, "bench", `${n.storePathHash}.narinfo`), Buffer.from(await res.arrayBuffer()));
  }
  nginx = await startNginx(root, "text/x-nix-narinfo");
  // What Node itself can do on this machine: node:http answering from a Map, no framework, no
  // database (context for the atticd figure, not the target's baseline).
  const bodies = new Map<string, Buffer>();
  for (const n of nars) bodies.set(`/bench/${n.storePathHash}.narinfo`, await (await fetch(`${nginx.url}/bench/${n.storePathHash}.narinfo`)).arrayBuffer().then(Buffer.from));
  plain = createServer((req, res) => {
    const body = bodies.get(req.url ?? "");
    res.writeHead(body ? 200 : 404, { "Content-Type": "text/x-nix-narinfo", "Content-Length": body?.length ?? 0 });
    res.end(body);
  });
  await new Promise<void>((resolve) => plain!.listen(0, "127.0.0.1", resolve));
  const plainUrl = `http://127.0.0.1:${(plain.address() as { port: number }).port}`;

  const hits = await writePathScript(work, "hits", nars.map((n) => `/bench/${n.storePathHash}.narinfo`));
  const misses = await writePathScript(work, "misses", Array.from({ length: objects }, (_, i) => `/bench/${storePathHash(`absent-${i}`)}.narinfo`));

  const cold = await writeRandomHashScript(work, "cold", "/bench/", ".narinfo");

  const kinds = (process.env.BENCH_NARINFO_KINDS ?? "hit,miss,cold").split(",");
  const lines = ([["hit ", hits, false], ["miss", misses, true], ["cold", cold, true]] as const).filter(([label]) => kinds.includes(label.trim()));
  for (const [label, script, expect404] of lines) {
    const ours: WrkResult[] = [];
    const theirs: WrkResult[] = [];
    const node: WrkResult[] = [];
    for (let r = 0; r < runs; r++) {
      ours.push(await runWrk(server.url, script, wrkOptions));
      theirs.push(await runWrk(nginx.url, script, wrkOptions));
      node.push(await runWrk(plainUrl, script, wrkOptions));
    }
    for (const [who, results] of [["atticd", ours], ["nginx", theirs]] as const) {
      for (const x of results) {
        const bad = expect404 ? x.requests - x.non2xx : x.non2xx;
        if (bad !== 0 || x.errors !== 0) throw new Error(`${who} ${label}: ${bad} unexpected statuses, ${x.errors} socket errors`);
      }
    }
    const rps = median(ours.map((x) => x.rps));
    const base = median(theirs.map((x) => x.rps));
    const p50 = median(ours.map((x) => x.p50));
    const p99 = median(ours.map((x) => x.p99));
    console.log(
      `narinfo ${label}: atticd ${rps.toFixed(0)} req/s, p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms ${verdict(p99, "<=", 5)}; ` +
        `nginx ${base.toFixed(0)} req/s, p50 ${median(theirs.map((x) => x.p50)).toFixed(2)} ms, p99 ${median(theirs.map((x) => x.p99)).toFixed(2)} ms; ` +
        `ratio ${(rps / base).toFixed(2)} ${verdict(rps / base, ">=", 0.5)}; runs atticd ${ours.map((x) => x.rps.toFixed(0)).join("/")}, nginx ${theirs.map((x) => x.rps.toFixed(0)).join("/")}; ` +
        `plain node:http from memory ${median(node.map((x) => x.rps)).toFixed(0)} req/s, p99 ${median(node.map((x) => x.p99)).toFixed(2)} ms; ` +
        `wrk -t${wrkOptions.threads} -c${wrkOptions.connections} -d${wrkOptions.seconds}s; ${load()}`,
    );
  }
} finally {
  plain?.close();
  await nginx?.stop();
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
