/**
 * Helpers for the CLI tests: they build `dist` once (serialised across test files with a lock
 * directory), then run the real `bin/atticd.js` and `bin/atticadm.js` as child processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateKeyPairSync } from "node:crypto";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const ATTICD = join(REPO, "packages/server-koa/bin/atticd.js");
export const ATTICADM = join(REPO, "packages/server-koa/bin/atticadm.js");
export const HS256_SECRET = Buffer.from("attic-ts cli test secret").toString("base64");

const LOCK = join(tmpdir(), "attic-ts-cli-tests-build.lock");

/** Runs `tsc -b` for the whole solution, one test file at a time, so `dist` is fresh. */
export async function buildDist(): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await mkdir(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock older than ten minutes belongs to a crashed run.
      const age = Date.now() - (await stat(LOCK).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 10 * 60_000) await rmdir(LOCK).catch(() => {});
      if (Date.now() > deadline) throw new Error("timed out waiting for another test file's build");
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    const result = await run(process.execPath, [join(REPO, "node_modules/typescript/bin/tsc"), "-b"], { cwd: REPO, env: process.env });
    if (result.code !== 0) throw new Error(`tsc -b failed:\n${result.stdout}${result.stderr}`);
  } finally {
    await rmdir(LOCK).catch(() => {});
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd ?? REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A scratch directory with its own HOME and XDG directories; nothing from the parent's ATTIC_* leaks in. */
export interface Sandbox {
  dir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), "attic-ts-cli-"));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: join(dir, "home"),
    XDG_CONFIG_HOME: join(dir, "xdg-config"),
    XDG_DATA_HOME: join(dir, "xdg-data"),
    ATTIC_LOG: "info",
  };
  return { dir, env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function atticadm(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return run(process.execPath, [ATTICADM, ...args], { env });
}

export function atticdOnce(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return run(process.execPath, [ATTICD, ...args], { env });
}

/** A running atticd: its port (read from the "Listening on" log line) and its output so far. */
export interface RunningAtticd {
  child: ChildProcess;
  port: number;
  url: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startAtticd(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<RunningAtticd> {
  const child = spawn(process.execPath, [ATTICD, ...args], { env, cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`atticd did not listen within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /Listening on http:\/\/[^\s"]+:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`atticd exited (code ${code}, signal ${signal}) before listening:\n${stderr}`));
    });
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Attic-format TOML for a sandbox: SQLite and local storage inside `dir`. */
export function serverToml(dir: string, options: { listen?: string; extra?: string; signing?: string | null; chunking?: string | null } = {}): string {
  const signing =
    options.signing === null ? "" : `[jwt.signing]\n${options.signing ?? `token-hs256-secret-base64 = "${HS256_SECRET}"`}\n`;
  const chunking =
    options.chunking === null
      ? ""
      : (options.chunking ?? "[chunking]\nnar-size-threshold = 65536\nmin-size = 16384\navg-size = 65536\nmax-size = 262144\n");
  return [
    `listen = ${JSON.stringify(options.listen ?? "127.0.0.1:0")}`,
    options.extra ?? "",
    "[database]",
    `url = ${JSON.stringify(`sqlite://${join(dir, "server.db")}?mode=rwc`)}`,
    "[storage]",
    'type = "local"',
    `path = ${JSON.stringify(join(dir, "storage"))}`,
    chunking,
    signing,
  ].join("\n");
}

export async function writeConfig(dir: string, text: string, name = "server.toml"): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Base64 of a PKCS#1 PEM RSA private key, and of its SPKI public key. */
export function rsaKeysBase64(bits = 2048): { secret: string; pubkey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: bits,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { secret: Buffer.from(privateKey).toString("base64"), pubkey: Buffer.from(publicKey).toString("base64") };
}

/** The decoded header and payload of a JWT (no verification). */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.trim().split(".");
  const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
  return { header: decode(h!), payload: decode(p!) };
}

/** Every file below `dir`, relative paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1));
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token.trim()}` };
}

/** The body of Attic's `CreateCacheRequest` for a private cache with a generated key. */
export const CREATE_CACHE_BODY = JSON.stringify({
  keypair: "Generate",
  is_public: false,
  store_dir: "/nix/store",
  priority: 41,
  upstream_cache_key_names: ["cache.nixos.org-1"],
});

/** Polls `check` every 50 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
