import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * The real Nix CLI (Debian `nix-bin`, Nix 2.8) for interop checks. Missing Nix is a failure,
 * never a skip: these tests are the proof that our formats are Nix's.
 */
export const NIX_ENV = {
  ...process.env,
  // No substituters (cache.nixos.org is unreachable here); `nix` subcommands need nix-command;
  // builds run as root without the nixbld users, which a throwaway store cannot accommodate.
  NIX_CONFIG: "substituters =\nexperimental-features = nix-command\nbuild-users-group =",
};

export function requireNixCli(): void {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d.length > 0);
  for (const bin of ["nix-store", "nix-hash", "nix", "nix-build"]) {
    const found = dirs.some((dir) => existsSync(join(dir, bin)));
    if (!found) {
      throw new Error(`${bin} not found: install the Nix CLI (Debian: apt-get install -y nix-bin) to run these tests`);
    }
  }
}

/**
 * A synchronous call blocks the test worker, so vitest's own timeouts cannot fire while it
 * runs (and vitest uses one worker on 2 cores): a Nix command that has not finished after this
 * long is killed instead of stalling the whole run. These commands take well under a second.
 */
const NIX_TIMEOUT_MS = 60_000;

/** Where a Nix command runs, and what it reads on stdin (nothing unless given). */
export interface NixOptions {
  cwd?: string;
  input?: string;
}

function runNix(cmd: string, args: string[], { cwd, input }: NixOptions): string {
  return execFileSync(cmd, args, {
    env: NIX_ENV,
    cwd,
    input,
    encoding: "utf8",
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    timeout: NIX_TIMEOUT_MS,
    killSignal: "SIGKILL",
  }).trim();
}

/**
 * Runs a Nix command, returning trimmed stdout; throws with stderr on failure. A command killed
 * by the timeout is run once more (saying so on stderr, with what it had printed), so that one
 * stuck Nix process is reported without failing the run; a second one fails the test.
 */
export function nix(cmd: string, args: string[], options: NixOptions = {}): string {
  const line = `${cmd} ${args.join(" ")}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return runNix(cmd, args, options);
    } catch (err) {
      const e = err as { stderr?: string; code?: string; message: string };
      const timedOut = e.code === "ETIMEDOUT";
      if (timedOut && attempt === 1) {
        process.stderr.write(`nix-cli: ${line} was killed after ${NIX_TIMEOUT_MS / 1000} s; trying once more. It printed:\n${e.stderr ?? ""}\n`);
        continue;
      }
      const why = timedOut ? `killed after ${NIX_TIMEOUT_MS / 1000} s, twice` : e.message;
      throw new Error(`${line} failed (${why}): ${e.stderr ?? ""}`, { cause: err });
    }
  }
}

/** A throwaway local Nix store whose store dir lies under `root` (no chroot, no daemon). */
export interface TempStore {
  /** Store URI for `--store`. */
  uri: string;
  /** Its store directory, e.g. `/tmp/x/nix/store`. */
  storeDir: string;
}

/**
 * A local store keeping its database under `root`. By default its store dir is
 * `${root}/nix/store` and builds work (they run unsandboxed, as root). Given another store's
 * `storeDir`, its files live in `${root}/real` instead: a second store with the same store dir
 * to copy into (Nix builds in such a store only inside a chroot, which lacks /bin/sh).
 */
export function tempStore(root: string, storeDir?: string): TempStore {
  const dir = storeDir ?? `${root}/nix/store`;
  const real = storeDir === undefined ? "" : `&real=${root}/real`;
  return { uri: `local?store=${dir}&state=${root}/state&log=${root}/log${real}`, storeDir: dir };
}

/**
 * Builds two input-addressed paths in `store`: `dep` (no references) and `top` (refers to
 * `dep`). Built paths, unlike `nix-store --add` ones, need signatures to be copied.
 */
export function buildTestPaths(store: TempStore, dir: string, tag: string): { dep: string; top: string } {
  const expr = `
    let dep = derivation { name = "dep-${tag}"; system = builtins.currentSystem; builder = "/bin/sh";
                           args = [ "-c" "echo ${tag} > $out" ]; };
    in { inherit dep; top = derivation { name = "top-${tag}"; system = builtins.currentSystem;
           builder = "/bin/sh"; args = [ "-c" "echo \${dep} > $out" ]; }; }`;
  const build = (attr: string): string =>
    nix("nix-build", ["--store", store.uri, "--no-out-link", "-E", expr, "-A", attr], { cwd: dir });
  return { dep: build("dep"), top: build("top") };
}

/** `nix path-info --json --sigs` of one path (Nix 2.8 prints an array; newer an object). */
export interface CliPathInfo {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
  signatures?: string[];
}

export function pathInfo(store: TempStore, path: string): CliPathInfo {
  const parsed = JSON.parse(nix("nix", ["path-info", "--store", store.uri, "--json", "--sigs", path])) as unknown;
  const info = Array.isArray(parsed) ? (parsed[0] as CliPathInfo) : ((parsed as Record<string, CliPathInfo>)[path] as CliPathInfo);
  return { ...info, path: info.path ?? path };
}
