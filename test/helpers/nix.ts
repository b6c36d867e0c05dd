import { execFile, spawn } from "node:child_process";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Environment for the real `nix` CLI (Debian's nix-bin 2.8): no default substituter (it is
 * unreachable here and slows every build) and the `nix` command enabled.
 */
export function nixEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NIX_CONFIG: "substituters =\nexperimental-features = nix-command\n",
    ...extra,
  };
}

/**
 * A Nix command still running after this long is killed, so a stuck one fails its test with
 * what it printed (below the e2e test timeout of 120 s, which would report only the timeout).
 */
const NIX_TIMEOUT_MS = 100_000;

export async function nix(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  const [cmd, ...rest] = args;
  try {
    const { stdout } = await run(cmd!, rest, {
      env: options.env ?? nixEnv(),
      cwd: options.cwd,
      maxBuffer: 64 * 1024 * 1024,
      timeout: NIX_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    return stdout;
  } catch (err) {
    const e = err as { code?: string; killed?: boolean; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new Error(`${cmd} is not installed: run scripts/install-system-deps.sh (Debian package nix-bin)`);
    const why = e.killed ? ` (killed after ${NIX_TIMEOUT_MS / 1000} s without finishing)` : "";
    throw new Error(`${args.join(" ")} failed${why}: ${e.stderr ?? e.message}`);
  }
}

/** Fails loudly when Nix is missing, so a suite never passes by skipping. */
export async function requireNix(): Promise<string> {
  return (await nix(["nix-store", "--version"])).trim();
}

/** Adds a directory tree with the given files to the store (content-addressed path). */
export async function addFiles(name: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "attic-ts-nix-"));
  const dir = join(root, name);
  await mkdir(dir);
  for (const [file, content] of Object.entries(files)) {
    await mkdir(join(dir, file, ".."), { recursive: true });
    await writeFile(join(dir, file), content);
  }
  return (await nix(["nix-store", "--add", dir])).trim();
}

/** Builds a trivial input-addressed derivation (these need signatures when substituted). */
export async function buildPath(name: string, script: string, deps: string[] = []): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "attic-ts-drv-"));
  // builtins.storePath gives the string its store context, so the dependency is real
  // (available in the sandbox and detected as a reference when the output mentions it).
  const depList = deps.map((d) => `(builtins.storePath "${d}")`).join(" ");
  const expr = `derivation {
    name = "${name}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    deps = [ ${depList} ];
    args = [ "-c" ${JSON.stringify(script)} ];
  }`;
  await writeFile(join(root, "default.nix"), expr);
  return (await nix(["nix-build", "--no-out-link", join(root, "default.nix")])).trim();
}

export interface PathInfo {
  path: string;
  /** SRI on Nix 2.8 (`sha256-<base64>`). */
  narHash: string;
  narSize: number;
  /** Full store paths. */
  references: string[];
  deriver?: string;
  signatures?: string[];
  ca?: string;
}

/** `nix path-info --json` (an array on 2.8, an object keyed by path on newer Nix). */
export async function pathInfo(paths: string[], recursive = false): Promise<PathInfo[]> {
  const out = await nix(["nix", "path-info", "--json", ...(recursive ? ["--recursive"] : []), ...paths]);
  const parsed = JSON.parse(out) as PathInfo[] | Record<string, Omit<PathInfo, "path">>;
  return Array.isArray(parsed) ? parsed : Object.entries(parsed).map(([path, info]) => ({ path, ...info }));
}

/**
 * The NAR of a store path, streamed from `nix-store --dump`. A failing `nix-store` errors the
 * stream (with its stderr) instead of ending it early, so a test never uploads a truncated NAR
 * and blames the server.
 */
export function dumpNar(path: string): Readable {
  const child = spawn("nix-store", ["--dump", path], { env: nixEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const out = new PassThrough();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.pipe(out, { end: false });
  let stdoutEnded = false;
  let exit: number | null | undefined;
  const finish = () => {
    if (!stdoutEnded || exit === undefined) return;
    if (exit === 0) out.end();
    else out.destroy(new Error(`nix-store --dump ${path} exited with ${exit}: ${stderr}`));
  };
  child.stdout.on("end", () => {
    stdoutEnded = true;
    finish();
  });
  child.on("close", (code) => {
    exit = code;
    finish();
  });
  child.on("error", (err) => out.destroy(err));
  return out;
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Attic's upload info for a store path, as the upstream client builds it. */
export async function uploadInfoFor(cache: string, path: string) {
  const [info] = await pathInfo([path]);
  if (!info) throw new Error(`no path info for ${path}`);
  const base = baseName(path);
  return {
    cache,
    store_path_hash: base.slice(0, 32),
    store_path: path,
    references: info.references.map(baseName),
    system: null,
    deriver: null,
    sigs: info.signatures ?? [],
    ca: info.ca ?? null,
    nar_hash: info.narHash,
    nar_size: info.narSize,
  };
}
