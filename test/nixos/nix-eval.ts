/**
 * Helpers for the NixOS module tests. This machine has Debian's Nix 2.8 and no nixpkgs, so the
 * tests evaluate the builtins-only parts (nixos/lib.nix, nixos/example-settings.nix, flake.nix
 * with a stub nixpkgs) with `nix-instantiate`, and emulate what nixpkgs does with the results.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "smol-toml";
import { REPO } from "../../packages/server-koa/test/cli-harness.ts";
import { nixEnv } from "../helpers/nix.ts";

const run = promisify(execFile);

export { REPO };
export const NIXOS_DIR = join(REPO, "nixos");

/** A Nix string literal for an absolute path (for splicing into `--expr` text). */
export function nixPath(path: string): string {
  if (!path.startsWith("/") || /[\s"$\\]/.test(path)) throw new Error(`not a plain absolute path: ${path}`);
  return path;
}

/** `import <repo>/nixos/lib.nix`, for splicing into expressions. */
export const LIB = `(import ${nixPath(join(NIXOS_DIR, "lib.nix"))})`;

/** Evaluates a Nix expression strictly and returns its JSON value. */
export async function nixEval<T = unknown>(expr: string): Promise<T> {
  try {
    const { stdout } = await run("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], {
      env: nixEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout) as T;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new Error("nix-instantiate is not installed: run scripts/install-system-deps.sh (nix-bin)");
    throw new Error(`nix-instantiate failed: ${e.stderr ?? e.message}`);
  }
}

/** Evaluates an expression that must fail; returns Nix's error output. */
export async function nixEvalError(expr: string): Promise<string> {
  try {
    await run("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], { env: nixEnv() });
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? String(err);
  }
  throw new Error(`expected the evaluation to fail: ${expr}`);
}

/** Runs `nix-instantiate --parse` on a file; resolves with the exit code and stderr. */
export async function nixParse(file: string): Promise<{ ok: boolean; stderr: string }> {
  try {
    await run("nix-instantiate", ["--parse", file], { env: nixEnv(), maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, stderr: "" };
  } catch (err) {
    return { ok: false, stderr: (err as { stderr?: string }).stderr ?? String(err) };
  }
}

/**
 * The `settings` the module would render for a user's settings file: the module adds
 * `database.url` (mkDefault, so a user's URL wins and other `database` keys merge) and
 * `storage` (mkDefault as a whole table, so a user's table replaces it), from nixos/lib.nix.
 */
export function moduleSettingsExpr(userSettings: string): string {
  return `let
    helpers = ${LIB};
    user = ${userSettings};
  in user // {
    database = { url = helpers.defaultDatabaseUrl; } // (user.database or { });
    storage = user.storage or helpers.defaultStorage;
  }`;
}

/**
 * TOML the way nixpkgs' `pkgs.formats.toml` writes it: Nix's `builtins.toJSON` (attribute
 * names sorted) piped through remarshal's json2toml, which keeps that order, writes plain
 * values before tables (`[chunking]`, `[jwt]`, ...; empty tables as a bare header) and quotes
 * keys only when they are not bare keys. smol-toml's `stringify` follows the same rules; only
 * whitespace inside arrays differs, which no TOML reader sees.
 */
export function renderTomlLikeNixpkgs(settings: Record<string, unknown>): string {
  return stringify(settings);
}
