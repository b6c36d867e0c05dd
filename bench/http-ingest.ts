// Ingest through HTTP (issue #8): the real atticd process (local-fs + SQLite in a temp dir) and
// this process as the client, PUTting /_api/v1/upload-path with X-Attic-Nar-Info and streaming
// NAR files from disk, BENCH_PARALLEL (4) at a time. The NARs are `nix-store --dump` of real
// directories under /usr/lib and /usr/share, BENCH_SIZE_MIB (1024) in total. Baselines, measured
// in the same run on the same files:
//   - compression "none": SHA-256 of the files read from disk (target >= 0.5x), and the disk's
//     limit for a chunk store: as many files of the sizes atticd stored, written durably
//     (temp file, fsync, rename) 24 at a time, without HTTP, hashing or database, with the CPU
//     those files cost and what the target would take in CPU for them alone
//   - compression "zstd" (Attic's default, level 8): cores x `zstd -8 -T1` over the same files
//     (target >= 0.85x)
// Each mode also prints atticd's CPU per stored chunk file. Each figure is the median of
// BENCH_RUNS (3) runs, each on a fresh server.
// Run: npx tsc -b && TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx --conditions=source bench/http-ingest.ts
// BENCH_MODES=none (or zstd) runs one mode only. BENCH_PROFILE=DIR writes a --cpu-prof of the server's last run of each mode into DIR.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { startAtticd } from "./lib/atticd.ts";
import { evenSizes, fileWriteCost } from "./lib/file-baseline.ts";
import { familyCpuMs } from "./lib/cpu-time.ts";
import { envNumber, load, mbps, median, repeat, verdict } from "./lib/bench-util.ts";
import { makeNarFiles, sha256Files } from "./lib/nar-files.ts";
import { uploadAll } from "./lib/upload-client.ts";

const mib = envNumber("BENCH_SIZE_MIB", 1024);
const runs = envNumber("BENCH_RUNS", 3);
const parallel = envNumber("BENCH_PARALLEL", 4);
const cores = availableParallelism();
const profileDir = process.env.BENCH_PROFILE;

function zstdCli(paths: string[], bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("zstd", ["-8", "-T1", "-q", "-c", ...paths], { stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(mbps(bytes, performance.now() - t0)) : reject(new Error(`zstd exited ${code}`))));
  });
}

const work = await mkdtemp(join(tmpdir(), "attic-ts-httpbench-nars-"));
try {
  const nars = await makeNarFiles(work, mib * 2 ** 20);
  const bytes = nars.reduce((a, n) => a + n.size, 0);
  const paths = nars.map((n) => n.path);
  console.log(`input: ${nars.length} NARs of /usr/lib and /usr/share directories, ${(bytes / 2 ** 20).toFixed(0)} MiB; ${parallel} uploads at a time; ${cores} cores; median of ${runs}`);

  const sha = median(await repeat(runs, () => sha256Files(paths)));
  const cli = median(await repeat(runs, () => zstdCli(paths, bytes)));

  /** CPU per durable chunk file (the baseline's, with the directory fsync), µs; once `none` ran. */
  let durableFileCpu: number | undefined;
  const modes = (process.env.BENCH_MODES ?? "none,zstd").split(",") as Array<"none" | "zstd">;
  for (const compression of modes) {
    const speeds: number[] = [];
    let dedup = 0;
    let stored = 0;
    let storedFiles = 0;
    /** Per run: CPU per stored chunk file of atticd (all processes and threads) and of this client, µs. */
    const cpuPerFile: Array<{ server: number; client: number }> = [];
    for (let r = 0; r < runs; r++) {
      const profile = profileDir && r === runs - 1 ? [`--cpu-prof`, `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=ingest-${compression}.cpuprofile`] : [];
      const server = await startAtticd({ compression, nodeFlags: profile });
      try {
        await server.createCache("bench");
        const serverCpu0 = await familyCpuMs(server.pid);
        const clientCpu0 = process.cpuUsage();
        const t0 = performance.now();
        const results = await uploadAll({ url: server.url, token: server.token, cache: "bench" }, nars.map((n) => ({ ...n, body: n.path })), parallel);
        speeds.push(mbps(bytes, performance.now() - t0));
        const clientCpu = process.cpuUsage(clientCpu0);
        const serverCpuMs = (await familyCpuMs(server.pid)) - serverCpu0;
        dedup = results.reduce((a, x, i) => a + (x.frac_deduplicated ?? 0) * nars[i]!.size, 0) / bytes;
        ({ bytes: stored, files: storedFiles } = await server.storedBytes());
        const files = Math.max(1, storedFiles);
        cpuPerFile.push({ server: (serverCpuMs * 1000) / files, client: (clientCpu.user + clientCpu.system) / files });
      } finally {
        await server.stop();
      }
    }
    const speed = median(speeds);
    const [baseName, base, target] =
      compression === "none" ? ["SHA-256 of the files", sha, 0.5] : [`zstd -8 -T1 CLI ${cli.toFixed(0)} MB/s x ${cores} cores`, cli * cores, 0.85];
    console.log(
      `http ingest ${compression === "none" ? "none  " : "zstd 8"}: ${speed.toFixed(0)} MB/s (runs ${speeds.map((s) => s.toFixed(0)).join("/")}; ` +
        `${(dedup * 100).toFixed(0)}% deduplicated, stored ${(stored / 2 ** 20).toFixed(0)} MiB); ` +
        `${baseName}: ${base.toFixed(0)} MB/s; ratio ${(speed / base).toFixed(2)} ${verdict(speed / base, ">=", target)}; ${load()}`,
    );
    const serverPerFile = median(cpuPerFile.map((x) => x.server));
    console.log(
      `  CPU per stored chunk file (${storedFiles} files), medians: atticd ${serverPerFile.toFixed(0)} µs (all its threads), this client ${median(cpuPerFile.map((x) => x.client)).toFixed(0)} µs`,
    );
    if (compression === "none") {
      // The same number of files and bytes atticd stored, as NAR MB/s (stored ~ NAR bytes here).
      for (const sync of ["file", "file+dir"] as const) {
        const syncDirectories = sync === "file+dir";
        const disk = await fileWriteCost(evenSizes(storedFiles, stored), 24, undefined, sync);
        const limit = disk.mbps * (bytes / stored);
        console.log(
          `  disk limit for those ${storedFiles} chunk files (${(stored / 2 ** 20).toFixed(0)} MiB written durably${syncDirectories ? " with the directory fsync local-fs does" : ""}, 24 at a time, no HTTP/hashing/database): ` +
            `${limit.toFixed(0)} MB/s of NAR; atticd / that ${(speed / limit).toFixed(2)}; ${disk.cpuMicrosPerFile.toFixed(0)} µs CPU per file; ${load()}`,
        );
        if (syncDirectories) durableFileCpu = disk.cpuMicrosPerFile;
      }
    }
    if (durableFileCpu !== undefined) {
      // What the target takes in CPU for the chunk files alone (and, for zstd, the compression
      // at the CLI's rate), against the cores there are.
      const targetSpeed = target * base;
      const filesPerSecond = targetSpeed * 1e6 * (storedFiles / bytes);
      const filesCpu = (filesPerSecond * durableFileCpu) / 1e6;
      const compressCpu = compression === "zstd" ? targetSpeed / cli : 0;
      console.log(
        `  at the target (${targetSpeed.toFixed(0)} MB/s, ${filesPerSecond.toFixed(0)} chunk files/s) the durable files alone take ${filesCpu.toFixed(1)} CPU-seconds per second` +
          `${compression === "zstd" ? ` and compressing at the CLI's rate ${compressCpu.toFixed(1)} more` : ""}; the machine has ${cores}`,
      );
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
