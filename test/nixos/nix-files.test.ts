import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { requireNix } from "../helpers/nix.ts";
import { LIB, NIXOS_DIR, REPO, nixEval, nixEvalError, nixParse } from "./nix-eval.ts";

/**
 * What Nix 2.8 without nixpkgs can check of nixos/ and flake.nix: every file parses, the flake's
 * outputs have the right shape (with a stub nixpkgs), and the builtins-only helpers in
 * nixos/lib.nix (used by the module and the package) compute what they must.
 */

const run = promisify(execFile);

beforeAll(async () => {
  await requireNix();
});

async function nixFiles(): Promise<string[]> {
  const entries = await readdir(NIXOS_DIR, { recursive: true });
  return [join(REPO, "flake.nix"), ...entries.filter((e) => e.endsWith(".nix")).map((e) => join(NIXOS_DIR, e))].sort();
}

describe("the .nix files", () => {
  it("are all there", async () => {
    expect((await nixFiles()).map((f) => relative(REPO, f))).toEqual([
      "flake.nix",
      "nixos/atticd.nix",
      "nixos/example-settings.nix",
      "nixos/lib.nix",
      "nixos/package.nix",
      "nixos/tests/basic.nix",
    ]);
  });

  it("all parse with nix-instantiate --parse", async () => {
    for (const file of await nixFiles()) {
      const r = await nixParse(file);
      expect(r.stderr, relative(REPO, file)).toBe("");
      expect(r.ok, relative(REPO, file)).toBe(true);
    }
  });

  it("a broken copy does not parse (the check can fail)", async () => {
    const text = await readFile(join(NIXOS_DIR, "atticd.nix"), "utf8");
    const broken = join(await mkdtemp(join(tmpdir(), "attic-ts-nix-parse-")), "atticd.nix");
    await writeFile(broken, text.replace("config = mkIf cfg.enable {", "config = mkIf cfg.enable {{"));
    expect((await nixParse(broken)).ok).toBe(false);
    await rm(join(broken, ".."), { recursive: true, force: true });
  });
});

describe("flake.nix, with a stub nixpkgs", () => {
  // Only what the outputs touch before any package is built: lib.genAttrs, filter, hasSuffix.
  const outputs = `let
    flake = import ${join(REPO, "flake.nix")};
    stubLib = {
      genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
      filter = builtins.filter;
      hasSuffix = suffix: s: let n = builtins.stringLength s; m = builtins.stringLength suffix;
        in m <= n && builtins.substring (n - m) m s == suffix;
    };
    nixpkgs = { lib = stubLib; legacyPackages = { }; };
    self = flake.outputs { inherit self nixpkgs; };
  in self`;

  it("has the module, an overlay, packages for four systems and VM checks for Linux", async () => {
    const shape = await nixEval<Record<string, unknown>>(`let o = ${outputs}; in {
      outputs = builtins.attrNames o;
      modules = builtins.attrNames o.nixosModules;
      moduleIsFile = toString o.nixosModules.atticd;
      defaultIsSame = o.nixosModules.default == o.nixosModules.atticd;
      overlayIsFunction = builtins.isFunction o.overlays.default;
      packageSystems = builtins.attrNames o.packages;
      checkSystems = builtins.attrNames o.checks;
      nixpkgsInput = (import ${join(REPO, "flake.nix")}).inputs.nixpkgs.url;
    }`);
    expect(shape).toEqual({
      outputs: ["checks", "nixosModules", "overlays", "packages"],
      modules: ["atticd", "default"],
      moduleIsFile: join(NIXOS_DIR, "atticd.nix"),
      defaultIsSame: true,
      overlayIsFunction: true,
      packageSystems: ["aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"],
      checkSystems: ["aarch64-linux", "x86_64-linux"],
      nixpkgsInput: "github:NixOS/nixpkgs/nixos-unstable",
    });
  });
});

describe("nixos/lib.nix", () => {
  it("orders the unit after PostgreSQL only for a local PostgreSQL URL", async () => {
    const urls: Array<[string, boolean]> = [
      ["postgresql://atticd@localhost/attic", true],
      ["postgres://atticd@127.0.0.1:5432/attic", true],
      ["postgresql://[::1]/attic", true],
      ["postgresql:///attic?host=/run/postgresql", true],
      ["postgresql:///attic", true], // no host: libpq's local socket
      ["postgresql://db.example.com/attic", false],
      ["sqlite:///var/lib/atticd/server.db?mode=rwc", false],
      ["", false],
    ];
    const got = await nixEval<boolean[]>(`map ${LIB}.isLocalPostgresUrl ${JSON.stringify(urls.map(([u]) => u)).replaceAll(",", " ")}`);
    expect(Object.fromEntries(urls.map(([u], i) => [u, got[i]]))).toEqual(Object.fromEntries(urls));
  });

  it("makes only storage and SQLite paths outside /var/lib/atticd writable", async () => {
    const cases = await nixEval<string[][]>(`map ${LIB}.extraWritablePaths [
      { database.url = "sqlite:///var/lib/atticd/server.db?mode=rwc"; storage = { type = "local"; path = "/var/lib/atticd/storage"; }; }
      { database.url = "sqlite:///srv/db/attic.db?mode=rwc"; storage = { type = "local"; path = "/srv/attic"; }; }
      { database.url = "postgresql:///attic"; storage = { type = "s3"; bucket = "b"; region = "r"; }; }
      { database.url = "sqlite://:memory:"; storage = { type = "local"; path = "/var/lib/atticd"; }; }
      { database.url = "sqlite:///var/lib/atticdx/db"; storage = { type = "local"; path = "/var/lib/atticd-other"; }; }
    ]`);
    expect(cases).toEqual([[], ["/srv/attic", "/srv/db"], [], [], ["/var/lib/atticd-other", "/var/lib/atticdx"]]);
  });

  it("substitutes placeholders as single shell words, and refuses leftovers", async () => {
    const nasty = `it's a "path" with $HOME and spaces`;
    const text = await nixEval<string>(`${LIB}.substitutePlaceholders "printf '%s\\n' @a@ @b@" { a = ${JSON.stringify(nasty)}; b = "/x"; }`);
    const { stdout } = await run("bash", ["-c", text]);
    expect(stdout).toBe(`${nasty}\n/x\n`);
    expect(await nixEvalError(`${LIB}.substitutePlaceholders "exec @a@ @forgotten@" { a = "x"; }`)).toContain("@forgotten@");
  });

  it("leaves no placeholder of the scripts unfilled by the module's values", async () => {
    const module = await readFile(join(NIXOS_DIR, "atticd.nix"), "utf8");
    for (const [script, names] of [
      ["atticadm-shim.sh", ["atticadm", "configFile"]],
      ["atticadm-wrapper.sh", ["systemdRun", "environmentFile", "user", "group", "shim"]],
    ] as const) {
      const text = await readFile(join(NIXOS_DIR, script), "utf8");
      const used = [...new Set([...text.matchAll(/@([A-Za-z]+)@/g)].map((m) => m[1]))].sort();
      expect(used, script).toEqual([...names].sort());
      const block = module.slice(module.indexOf(`./${script}`));
      for (const name of names) expect(block.slice(0, 400), `${script}: ${name}`).toMatch(new RegExp(`\\b${name}\\b`));
    }
  });
});

describe("nixos/lib.nix offlineNpmLock on the real package-lock.json", () => {
  type Entry = { version?: string; name?: string; integrity?: string; link?: boolean; resolved?: string; optional?: boolean };
  let lock: { packages: Record<string, Entry> };
  let fixed: Record<string, Entry>;

  beforeAll(async () => {
    lock = JSON.parse(await readFile(join(REPO, "package-lock.json"), "utf8"));
    // A stub fetchurl that records its arguments in the "store path" it returns.
    fixed = await nixEval<Record<string, Entry>>(`(${LIB}.offlineNpmLock {
      fetchurl = { url, hash }: "/nix/store/fetched" + "|" + url + "|" + hash;
      lock = builtins.fromJSON (builtins.readFile ${join(REPO, "package-lock.json")});
      platform = { os = "linux"; cpu = "x64"; };
    }).packages`);
  });

  /** npm's tarball URL, computed here independently of the Nix code. */
  function tarballUrl(key: string, entry: Entry): string {
    const name = entry.name ?? key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
    return `https://registry.npmjs.org/${name}/-/${name.split("/").pop()}-${entry.version}.tgz`;
  }

  it("fetches every registry package npm installed here, by npm's URL and the lock's integrity", async () => {
    const installed = Object.keys(lock.packages).filter((k) => k.includes("node_modules/") && !lock.packages[k]!.link && existsSync(join(REPO, k)));
    expect(installed.length).toBeGreaterThan(100);
    for (const key of installed) {
      const entry = lock.packages[key]!;
      expect(fixed[key]!.resolved, key).toBe(`file:/nix/store/fetched|${tarballUrl(key, entry)}|${entry.integrity}`);
    }
  });

  it("skips only optional packages for other systems, which npm did not install here", async () => {
    const skipped = Object.keys(lock.packages).filter(
      (k) => k.includes("node_modules/") && !lock.packages[k]!.link && !fixed[k]!.resolved?.startsWith("file:"),
    );
    expect(skipped.length).toBeGreaterThan(0);
    for (const key of skipped) {
      expect(lock.packages[key]!.optional, key).toBe(true);
      expect(existsSync(join(REPO, key)), key).toBe(false);
    }
  });

  it("keeps workspace links and folders as they are", async () => {
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (entry.link || !key.includes("node_modules/")) expect(fixed[key], key).toEqual(entry);
    }
    expect(fixed["node_modules/@attic-ts/core"]).toEqual({ resolved: "packages/core", link: true });
  });

  const npmIndex = join(homedir(), ".npm/_cacache/index-v5");
  it.skipIf(!existsSync(npmIndex))("derives the same tarball URLs npm fetched (npm's cache index)", async () => {
    const { stdout } = await run("grep", ["-rhoE", "https://registry\\.npmjs\\.org/[^\"]+\\.tgz", npmIndex], { maxBuffer: 256 * 1024 * 1024 });
    const cached = new Set(stdout.split("\n"));
    const installed = Object.keys(fixed).filter((k) => fixed[k]!.resolved?.startsWith("file:") && existsSync(join(REPO, k)));
    const urls = installed.map((k) => fixed[k]!.resolved!.split("|")[1]!);
    const known = urls.filter((u) => cached.has(u));
    // The cache may miss a few (a cleaned cache, another machine), but it knows most of them.
    expect(known.length).toBeGreaterThan(urls.length * 0.9);
  });
});
