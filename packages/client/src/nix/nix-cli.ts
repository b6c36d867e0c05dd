import { execFile, spawn } from "node:child_process";
import { realpath } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { ClientError } from "../errors.ts";

/** What `nix path-info --json` tells about one valid store path. */
export interface PathInfo {
  /** Full store path. */
  path: string;
  /** As Nix prints it: SRI on Nix 2.8 (`sha256-<base64>`). */
  narHash: string;
  /** Bytes. */
  narSize: number;
  /** Full store paths. */
  references: string[];
  deriver?: string;
  signatures?: string[];
  ca?: string;
}

// `nix` is experimental on the Nix versions Debian ships; enabling the feature on the command
// line works whatever the user's nix.conf says.
const NIX_COMMAND = ["--extra-experimental-features", "nix-command"];

/**
 * The Nix store, reached only through the `nix` and `nix-store` commands (no libnixstore), with
 * the caller's environment (so NIX_STORE_DIR, NIX_CONFIG and friends apply).
 */
export class NixCli {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The store directory (`NIX_STORE_DIR`, else `/nix/store`, as Nix itself decides). */
  get storeDir(): string {
    return (this.env.NIX_STORE_DIR ?? this.env.NIX_STORE ?? "/nix/store").replace(/\/+$/, "");
  }

  /**
   * Path info of `paths`, and of their whole closure when `recursive` (`nix path-info
   * --recursive --json`). Accepts both output shapes: an array (Nix ≤ 2.18) or an object keyed
   * by path (newer Nix).
   */
  async pathInfo(paths: string[], recursive: boolean): Promise<PathInfo[]> {
    if (paths.length === 0) return [];
    const args = [...NIX_COMMAND, "path-info", "--json", ...(recursive ? ["--recursive"] : []), "--", ...paths];
    const out = await this.run("nix", args);
    const parsed = JSON.parse(out) as Array<PathInfo & { valid?: boolean }> | Record<string, Omit<PathInfo, "path"> | null>;
    // Nix 2.8 lists an invalid path as `{"path": ..., "valid": false}` and still exits 0;
    // newer Nix maps it to null.
    const infos = Array.isArray(parsed) ? parsed : Object.entries(parsed).map(([path, info]) => (info ? { path, ...info } : { path, valid: false }));
    for (const info of infos) {
      if ((info as { valid?: boolean }).valid === false) throw new ClientError(`path '${info.path}' is not valid`);
    }
    return infos as PathInfo[];
  }

  /** The closure of `path` (`nix-store -qR`), with outputs of derivations when `includeOutputs`. */
  async closure(path: string, includeOutputs: boolean): Promise<string[]> {
    const out = await this.run("nix-store", ["-qR", ...(includeOutputs ? ["--include-outputs"] : []), "--", path]);
    return out.split("\n").filter((l) => l !== "");
  }

  /**
   * The subset of `paths` that are valid store paths (`nix-store --check-validity
   * --print-invalid`), so one failed build does not fail a whole batch of path-info queries.
   */
  async validPaths(paths: string[]): Promise<string[]> {
    if (paths.length === 0) return [];
    const out = await this.run("nix-store", ["--check-validity", "--print-invalid", "--", ...paths]);
    const invalid = new Set(out.split("\n").filter((l) => l !== ""));
    return paths.filter((p) => !invalid.has(p));
  }

  /**
   * Resolves a user-given path to the store path containing it: paths already inside the
   * store are cut to `{storeDir}/{hash}-{name}`; others (like `./result`) have their symlinks
   * followed first.
   */
  async followStorePath(path: string): Promise<string> {
    const abs = isAbsolute(path) ? path : resolve(path);
    const inStore = this.storePathOf(abs) ?? this.storePathOf(await realpath(abs).catch(() => abs));
    if (!inStore) throw new ClientError(`Path ${path} is not in the Nix store (${this.storeDir})`);
    return inStore;
  }

  /** `{storeDir}/{first component}` when `abs` lies inside the store, else undefined. */
  storePathOf(abs: string): string | undefined {
    const prefix = `${this.storeDir}/`;
    if (!abs.startsWith(prefix)) return undefined;
    const base = abs.slice(prefix.length).split("/", 1)[0]!;
    return base === "" ? undefined : prefix + base;
  }

  /**
   * The NAR serialisation of `path`, streamed from `nix-store --dump`'s stdout. A failing dump
   * throws (with its stderr) at the end instead of ending the stream quietly, so a truncated
   * NAR is never presented as complete; stopping early kills the child.
   */
  async *dumpNar(path: string): AsyncGenerator<Uint8Array> {
    const child = spawn("nix-store", ["--dump", path], { env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolveExit, reject) => {
      child.on("error", reject);
      child.on("close", (code) => resolveExit(code));
    });
    let finished = false;
    try {
      for await (const chunk of child.stdout) yield chunk as Uint8Array;
      const code = await exited;
      finished = true;
      if (code !== 0) throw new ClientError(`nix-store --dump ${path} failed (exit ${code}): ${stderr.trim()}`);
    } finally {
      if (!finished) {
        child.kill("SIGKILL");
        await exited.catch(() => {});
      }
    }
  }

  private run(cmd: string, args: string[]): Promise<string> {
    return new Promise((resolveRun, reject) => {
      execFile(cmd, args, { env: this.env, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolveRun(stdout);
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT") return reject(new ClientError(`${cmd} is not installed or not in PATH`));
        reject(new ClientError(`${cmd} ${args.filter((a) => !NIX_COMMAND.includes(a)).join(" ")} failed: ${stderr.trim() || e.message}`));
      });
    });
  }
}
