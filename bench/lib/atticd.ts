/**
 * The real server for the HTTP benchmarks: `packages/server-koa/bin/atticd.js` (the built
 * `dist`, so run `npx tsc -b` first) as a child process with its config, SQLite file and storage
 * in a temp directory, a token minted by `atticadm make-token`, and the process's peak RSS read
 * from `/proc/<pid>/status` (VmHWM).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { closeSync, mkdtempSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ATTICD_LAUNCHER, envOf, readAtticdShebang } from "../../scripts/atticd-shebang.mjs";
import { processFamily } from "./cpu-time.ts";
import { localSyncMode } from "./bench-util.ts";

const run = promisify(execFile);
export const REPO = fileURLToPath(new URL("../../", import.meta.url));
const ATTICADM = join(REPO, "packages/server-koa/bin/atticadm.js");
const SECRET = Buffer.from("attic-ts bench secret, not for production").toString("base64");
const MiB = 2 ** 20;

export interface AtticdOptions {
  /** `[compression] type`; "zstd" is Attic's default (level 8). */
  compression?: "none" | "zstd" | "xz" | "brotli";
  /** Database URL; default a SQLite file in the temp directory. */
  databaseUrl?: string;
  /** Extra node flags for the server process, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/x"]. */
  nodeFlags?: string[];
  /** Attic's template: threshold 64 KiB, 16/64/256 KiB. */
  chunking?: { threshold: number; min: number; avg: number; max: number };
}

export interface BenchAtticd {
  readonly url: string;
  readonly pid: number;
  dir: string;
  storage: string;
  token: string;
  configPath: string;
  /**
   * Peak resident set of the server since start or the last `resetPeak`, bytes: with HTTP
   * workers (`BENCH_ATTICD_ENV=ATTIC_TS_WORKERS=2`), the sum over the primary and its workers.
   */
  peakRss(): Promise<number>;
  /** Current resident set, bytes. */
  rss(): Promise<number>;
  /** Resets VmHWM (writes 5 to /proc/<pid>/clear_refs). */
  resetPeak(): Promise<void>;
  /** Creates a cache (public unless said otherwise) through the API. */
  createCache(name: string, isPublic?: boolean): Promise<void>;
  /** Total bytes of the files under the storage directory (what the cache stores). */
  storedBytes(): Promise<{ bytes: number; files: number }>;
  /** Stops the process and starts a new one on the same config, database and storage. */
  restart(): Promise<void>;
  /** The tail of the server's log (stderr). */
  log(): string;
  stop(): Promise<void>;
}

async function statusField(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  if (!m) throw new Error(`${field} missing from /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * `field` summed over atticd and its workers. For VmHWM that is the sum of each process's own
 * peak, an upper bound on the peak of the whole (they need not peak at the same moment).
 */
async function familyStatusField(pid: number, field: string): Promise<number> {
  let total = 0;
  for (const member of await processFamily(pid)) total += await statusField(member, field).catch(() => 0);
  return total;
}

/** `BENCH_ATTICD_ENV="A=1 B=2"`: extra environment for atticd, to compare runtime settings. */
function atticdEnvOverrides(): Record<string, string> {
  return envOf((process.env.BENCH_ATTICD_ENV ?? "").split(/\s+/));
}

/** `BENCH_ATTICD_FLAGS="--flag ..."`: node flags after the shebang's (a V8 flag given twice: the last wins). */
function atticdFlagOverrides(): string[] {
  return (process.env.BENCH_ATTICD_FLAGS ?? "").split(/\s+/).filter((w) => w !== "");
}

/**
 * `BENCH_ATTICD_STDOUT=FILE`: atticd's standard output appended to FILE (where V8's
 * `--trace-gc*` flags print), as an open descriptor for the child; otherwise it is discarded.
 */
function atticdStdout(): number | undefined {
  const path = process.env.BENCH_ATTICD_STDOUT;
  return path ? openSync(path, "a") : undefined;
}

export async function startAtticd(options: AtticdOptions = {}): Promise<BenchAtticd> {
  const dir = mkdtempSync(join(tmpdir(), "attic-ts-httpbench-"));
  const storage = join(dir, "storage");
  const c = options.chunking ?? { threshold: 65536, min: 16384, avg: 65536, max: 262144 };
  const toml = [
    'listen = "127.0.0.1:0"',
    "[database]",
    `url = ${JSON.stringify(options.databaseUrl ?? `sqlite://${join(dir, "server.db")}?mode=rwc`)}`,
    "[storage]",
    'type = "local"',
    `path = ${JSON.stringify(storage)}`,
    `sync = ${JSON.stringify(localSyncMode())}`,
    "[chunking]",
    `nar-size-threshold = ${c.threshold}`,
    `min-size = ${c.min}`,
    `avg-size = ${c.avg}`,
    `max-size = ${c.max}`,
    "[compression]",
    `type = ${JSON.stringify(options.compression ?? "zstd")}`,
    "[garbage-collection]",
    'interval = "0s"',
    "[jwt.signing]",
    `token-hs256-secret-base64 = "${SECRET}"`,
    "",
  ].join("\n");
  const configPath = join(dir, "server.toml");
  await writeFile(configPath, toml);
  const env = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, "xdg"), XDG_DATA_HOME: join(dir, "xdg"), ATTIC_LOG: "info", ...atticdEnvOverrides() };

  const launch = async () => {
    // Read at each launch: a bench may compare launchers by editing the shebang between runs.
    const shebang = readAtticdShebang();
    const stdout = atticdStdout();
    const child: ChildProcess = spawn(process.execPath, [...shebang.flags, ...atticdFlagOverrides(), ...(options.nodeFlags ?? []), ATTICD_LAUNCHER, "-f", configPath], {
      env: { ...shebang.env, ...env },
      cwd: dir,
      stdio: ["ignore", stdout ?? "ignore", "pipe"],
    });
    if (stdout !== undefined) closeSync(stdout); // the child has its own copy
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`atticd did not listen within 60 s:\n${stderr}`)), 60_000);
      let own = ""; // this process's output (the shared tail holds the previous one's too)
      child.stderr!.on("data", (d: Buffer) => {
        // Keep only the tail: the log is read on failure, never parsed after start.
        stderr = (stderr + d.toString()).slice(-20_000);
        own = own.length < 20_000 ? own + d.toString() : own;
        const m = /Listening on http:\/\/[^\s"]+:(\d+)/.exec(own);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`atticd exited before listening:\n${stderr}`));
      });
    });
    return { child, exited, url: `http://127.0.0.1:${port}` };
  };
  const halt = async (p: Awaited<ReturnType<typeof launch>>) => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
    const timer = setTimeout(() => p.child.kill("SIGKILL"), 35_000);
    await p.exited;
    clearTimeout(timer);
  };
  let stderr = "";
  let proc = await launch();
  const tokenOut = await run(
    process.execPath,
    [ATTICADM, "-f", configPath, "make-token", "--sub", "bench", "--validity", "1 day", "--pull", "*", "--push", "*", "--create-cache", "*", "--delete", "*"],
    { env },
  );
  const token = tokenOut.stdout.trim();

  return {
    get url() {
      return proc.url;
    },
    get pid() {
      return proc.child.pid!;
    },
    dir,
    storage,
    token,
    configPath,
    log: () => stderr,
    peakRss: () => familyStatusField(proc.child.pid!, "VmHWM"),
    rss: () => familyStatusField(proc.child.pid!, "VmRSS"),
    async resetPeak() {
      for (const pid of await processFamily(proc.child.pid!)) await writeFile(`/proc/${pid}/clear_refs`, "5");
    },
    async restart() {
      await halt(proc);
      proc = await launch();
    },
    async createCache(name, isPublic = true) {
      const res = await fetch(`${proc.url}/_api/v1/cache-config/${name}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ keypair: "Generate", is_public: isPublic, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] }),
      });
      if (res.status !== 200) throw new Error(`create cache ${name}: ${res.status} ${await res.text()}`);
    },
    async storedBytes() {
      let bytes = 0;
      let files = 0;
      const entries = await readdir(storage, { recursive: true, withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isFile()) continue;
        bytes += (await stat(join(e.parentPath, e.name))).size;
        files++;
      }
      return { bytes, files };
    },
    async stop() {
      await halt(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { MiB };
