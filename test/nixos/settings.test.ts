import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atticdOnce, buildDist, sandbox, type Sandbox } from "../../packages/server-koa/test/cli-harness.ts";
import { requireNix } from "../helpers/nix.ts";
import { NIXOS_DIR, REPO, moduleSettingsExpr, nixEval, nixParse, nixPath, renderTomlLikeNixpkgs } from "./nix-eval.ts";

/**
 * The module's `settings` path without nixpkgs: the example settings of Attic's "Deploying to
 * NixOS" guide (nixos/example-settings.nix, quoted by docs/nixos.md) plus the module's
 * defaults, evaluated by the real Nix, rendered to TOML as `pkgs.formats.toml` renders it, then
 * checked by the real `atticd --mode check-config` with the environment the module's
 * build-time check uses, and with a credentials file's.
 */

const EXAMPLE = nixPath(join(NIXOS_DIR, "example-settings.nix"));
let box: Sandbox;
let dir: string;

beforeAll(async () => {
  await requireNix();
  await buildDist();
  box = await sandbox();
  dir = await mkdtemp(join(tmpdir(), "attic-ts-nixos-settings-"));
});
afterAll(async () => {
  await box?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The `export NAME="VALUE"` lines of the module's build-time check (checkedConfigFile). */
async function moduleCheckEnv(): Promise<Record<string, string>> {
  const module = await readFile(join(NIXOS_DIR, "atticd.nix"), "utf8");
  const block = module.slice(module.indexOf("checkedConfigFile ="), module.indexOf("serviceConfigFile ="));
  const env: Record<string, string> = {};
  for (const m of block.matchAll(/export (ATTIC_[A-Z0-9_]+)="([^"]*)"/g)) env[m[1]!] = m[2]!;
  return env;
}

/** Reads an environment file the way systemd's EnvironmentFile= does for simple lines. */
function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m || /^\s*[#;]/.test(line)) continue;
    env[m[1]!] = m[2]!.trim().replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return env;
}

async function settingsFor(userSettings: string): Promise<Record<string, unknown>> {
  return nixEval<Record<string, unknown>>(moduleSettingsExpr(userSettings));
}

async function checkConfig(settings: Record<string, unknown>, env: Record<string, string>, name: string) {
  const file = join(dir, `${name}.toml`);
  await writeFile(file, renderTomlLikeNixpkgs(settings));
  return atticdOnce(["--mode", "check-config", "-f", file], { ...box.env, ...env });
}

describe("the example settings, rendered like pkgs.formats.toml", () => {
  it("evaluate to Attic's example values plus the module's SQLite and local-storage defaults", async () => {
    expect(await settingsFor(`import ${EXAMPLE}`)).toEqual({
      listen: "[::]:8080",
      jwt: {},
      chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
      database: { url: "sqlite:///var/lib/atticd/server.db?mode=rwc" },
      storage: { type: "local", path: "/var/lib/atticd/storage" },
    });
  });

  it("render with plain values first and the tables in sorted order, and read back unchanged", async () => {
    const settings = await settingsFor(`import ${EXAMPLE}`);
    const toml = renderTomlLikeNixpkgs(settings);
    const headers = toml.split("\n").filter((l) => l.startsWith("["));
    expect(toml.split("\n")[0]).toBe('listen = "[::]:8080"');
    expect(headers).toEqual(["[chunking]", "[database]", "[jwt]", "[storage]"]);
    expect(toml).toContain("nar-size-threshold = 65536\n");
    expect(parseToml(toml)).toEqual(settings);
  });

  it("pass `atticd --mode check-config` with the module's build-time environment", async () => {
    const env = await moduleCheckEnv();
    expect(Object.keys(env).sort()).toEqual(["ATTIC_SERVER_DATABASE_URL", "ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64"]);
    const r = await checkConfig(await settingsFor(`import ${EXAMPLE}`), env, "example-build");
    expect(r.stderr).toContain("the configuration is valid");
    expect(r.code, r.stderr).toBe(0);
  });

  it("pass check-config with the secret from a credentials file made as docs/nixos.md says", async () => {
    // `openssl rand 64 | base64 -w0`, then the one line the docs show.
    const secret = (await import("node:crypto")).randomBytes(64).toString("base64");
    const credentials = join(dir, "atticd.env");
    await writeFile(credentials, `ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64="${secret}"\n`, { mode: 0o600 });
    const env = parseEnvironmentFile(await readFile(credentials, "utf8"));
    expect(env).toEqual({ ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: secret });
    const r = await checkConfig(await settingsFor(`import ${EXAMPLE}`), env, "example-credentials");
    expect(r.code, r.stderr).toBe(0);
  });

  it("fail check-config without any signing key (the credentials are what makes them valid)", async () => {
    const r = await checkConfig(await settingsFor(`import ${EXAMPLE}`), {}, "example-no-key");
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64");
  });
});

describe("bad settings fail check-config, naming the key", () => {
  // Each case changes the example (bound to `example`); the module's defaults are added after.
  const cases: Array<[string, string, string]> = [
    ["a chunk size given as a string", `example // { chunking = example.chunking // { min-size = "16 KiB"; }; }`, "chunking.min-size"],
    ["a missing chunking value", `example // { chunking = builtins.removeAttrs example.chunking [ "max-size" ]; }`, "chunking.max-size"],
    ["an unknown storage type", `example // { storage = { type = "ftp"; path = "/srv/attic"; }; }`, "storage"],
    ["a misspelt top-level key", `example // { listn = "[::]:8080"; }`, "listn"],
    ["an invalid listen address", `example // { listen = "everywhere"; }`, "listen"],
    ["a garbage-collection interval that is no duration", `example // { garbage-collection.interval = "often"; }`, "garbage-collection.interval"],
  ];
  for (const [what, change, key] of cases) {
    it(what, async () => {
      const settings = await settingsFor(`let example = import ${EXAMPLE}; in ${change}`);
      const r = await checkConfig(settings, await moduleCheckEnv(), `bad-${key}`);
      expect(r.code, r.stderr).toBe(78);
      expect(r.stderr).toContain(key);
    });
  }
});

/** The ```nix blocks of docs/nixos.md, each written to its own file. */
async function docsNixBlocks(): Promise<string[]> {
  const docs = await readFile(join(REPO, "docs/nixos.md"), "utf8");
  const blocks = [...docs.matchAll(/^( *)```nix\n([\s\S]*?)^ *```$/gm)].map((m) =>
    m[2]!.split("\n").map((l) => l.slice(m[1]!.length)).join("\n"),
  );
  const files: string[] = [];
  for (const [i, block] of blocks.entries()) {
    const file = join(dir, `docs-block-${i}.nix`);
    await writeFile(file, block);
    files.push(file);
  }
  return files;
}

describe("docs/nixos.md", () => {
  it("has Nix snippets that all parse", async () => {
    const files = await docsNixBlocks();
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      const r = await nixParse(file);
      expect(r.stderr, await readFile(file, "utf8")).toBe("");
    }
  });

  it("has settings snippets that pass check-config, merged onto the example as the module merges them", async () => {
    let checked = 0;
    for (const file of await docsNixBlocks()) {
      const user = `(let block = import ${nixPath(file)}; in
        if builtins.isAttrs block then block.services.atticd.settings or null else null)`;
      if ((await nixEval(user)) === null) continue;
      // Definitions merge recursively, except that a user's storage table replaces the default.
      const merged = `let
        merge = a: b: a // builtins.mapAttrs (k: v:
          if k != "storage" && builtins.isAttrs v && builtins.isAttrs (a.\${k} or null) then merge a.\${k} v else v) b;
      in merge (import ${EXAMPLE}) ${user}`;
      const settings = await settingsFor(merged);
      const r = await checkConfig(settings, await moduleCheckEnv(), `docs-${checked}`);
      expect(r.code, `${await readFile(file, "utf8")}\n${r.stderr}`).toBe(0);
      checked++;
    }
    // The main example, PostgreSQL, S3 and nginx.
    expect(checked).toBe(4);
  });

  it("quotes nixos/example-settings.nix line for line", async () => {
    const docs = (await readFile(join(REPO, "docs/nixos.md"), "utf8")).split("\n").map((l) => l.trim());
    const example = (await readFile(join(NIXOS_DIR, "example-settings.nix"), "utf8"))
      .split("\n")
      .map((l) => l.trim())
      .filter((l, i, all) => i >= all.indexOf("{") + 1 && l !== "");
    // The body of the attribute set, without its closing brace, must appear in order.
    const body = example.slice(0, example.lastIndexOf("}"));
    const start = docs.indexOf(body[0]!);
    expect(start, "the first line of the example is in the docs").toBeGreaterThan(-1);
    expect(docs.slice(start).filter((l) => l !== "").slice(0, body.length)).toEqual(body);
  });
});
