// A/B of NAR download throughput between builds of core and local-fs: one atticd with one
// 1 GiB NAR, restarted on each build in turn, BENCH_AB_ROUNDS (3) rounds in ABBA order (the
// order flips every round, so a position in the round favours no build), a warm-up and 2
// downloads per build and round, and nginx once after each. Each build is a directory under
// BENCH_AB_DIR holding copies of `packages/core/dist` as `core` and `plugins/local-fs/dist` as
// `local-fs`; BENCH_AB_VARIANTS names them ("old new"). The repository's own dist is replaced
// while it runs and rebuilt (`npx tsc -b --force`) at the end.
// Run: BENCH_AB_DIR=/tmp/ab BENCH_AB_VARIANTS="old new" TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/ab-download.ts
import { execFile, execSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startAtticd, MiB, REPO } from "./lib/atticd.ts";
import { envNumber, median, storePathHash } from "./lib/bench-util.ts";
import { keystream, sha256Of } from "./lib/keystream.ts";
import { startNginx } from "./lib/nginx.ts";
import { uploadNar } from "./lib/upload-client.ts";
import { curlWithCpu } from "./lib/cpu-time.ts";

const run = promisify(execFile);
const variants = (process.env.BENCH_AB_VARIANTS ?? "old new").split(/\s+/).filter(Boolean);
const rounds = envNumber("BENCH_AB_ROUNDS", 3);
const dir = process.env.BENCH_AB_DIR;
if (!dir) throw new Error("BENCH_AB_DIR must name the directory holding the builds");
/** Puts build `v` in place of the repository's dist. */
function use(v: string) {
  execSync(`rm -rf ${REPO}/packages/core/dist ${REPO}/plugins/local-fs/dist && cp -r ${dir}/${v}/core ${REPO}/packages/core/dist && cp -r ${dir}/${v}/local-fs ${REPO}/plugins/local-fs/dist`);
}
/** MB/s of one GET with curl. */
const curl = async (url: string): Promise<number> => (await curlWithCpu(url)).speed;

use(variants[0]!);
const server = await startAtticd({ compression: "zstd" });
const work = await mkdtemp(join(tmpdir(), "ab-dl-"));
try {
  await server.createCache("bench", true);
  const size = 1024 * MiB;
  const hash = storePathHash("download");
  const narHash = await sha256Of(keystream(size, MiB, 8));
  await uploadNar({ url: server.url, token: server.token, cache: "bench" }, { storePathHash: hash, narHash, size, body: () => keystream(size, MiB, 8) });
  const root = join(work, "root");
  await mkdir(join(root, "bench", "nar"), { recursive: true });
  await run("curl", ["-sS", "--fail", "-o", join(root, "bench", "nar", `${hash}.nar`), `${server.url}/bench/nar/${hash}.nar`]);
  const nginx = await startNginx(root, "application/x-nix-nar");
  const res: Record<string, number[]> = { nginx: [] };
  for (let r = 0; r < rounds; r++) {
    // ABBA: a build that always ran last gained up to 12 % from its place alone (sixteenth pass).
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      use(v);
      await server.restart();
      await curl(`${server.url}/bench/nar/${hash}.nar`); // warm
      const xs = [await curl(`${server.url}/bench/nar/${hash}.nar`), await curl(`${server.url}/bench/nar/${hash}.nar`)];
      (res[v] ??= []).push(...xs);
      res.nginx!.push(await curl(`${nginx.url}/bench/nar/${hash}.nar`));
      console.log(`round ${r} ${v}: ${xs.map((x) => x.toFixed(0)).join(" ")} MB/s; nginx ${res.nginx!.at(-1)!.toFixed(0)}`);
    }
  }
  for (const [k, xs] of Object.entries(res)) console.log(`${k}: median ${median(xs).toFixed(0)} MB/s (${xs.map((x) => x.toFixed(0)).join(" ")})`);
  await nginx.stop();
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
  execSync(`cd ${REPO} && rm -rf packages/core/dist plugins/local-fs/dist && npx tsc -b --force`);
}
