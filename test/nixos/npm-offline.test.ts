import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireNix } from "../helpers/nix.ts";
import { LIB, REPO, nixEval } from "./nix-eval.ts";

/**
 * The dependency step of nixos/package.nix without Nix's fetchers: nixos/lib.nix
 * `offlineNpmLock` rewrites the real package-lock.json; each `fetchurl` result is stood in for
 * by the same tarball (found by its integrity hash in npm's local cache, as fetchurl would
 * check it); then `npm install --ignore-scripts --offline`, as importNpmLock's npmConfigHook
 * runs it, must install the workspace with an empty cache and an unreachable registry.
 */

const run = promisify(execFile);
type Entry = { resolved?: string; link?: boolean; optional?: boolean; integrity?: string };

let work: string;
let lock: { packages: Record<string, Entry> };

/** npm's cache (cacache) stores each tarball under the hex digest of its integrity hash. */
function cachedTarball(integrity: string): string {
  const [algorithm, base64] = integrity.split(/-(.*)/s) as [string, string];
  const hex = Buffer.from(base64, "base64").toString("hex");
  return join(homedir(), ".npm/_cacache/content-v2", algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

beforeAll(async () => {
  await requireNix();
  work = await mkdtemp(join(tmpdir(), "attic-ts-npm-offline-"));
  const platform = `{ os = "${process.platform}"; cpu = "${process.arch}"; }`;
  const rewritten = await nixEval<{ packages: Record<string, Entry> }>(`${LIB}.offlineNpmLock {
    fetchurl = { url, hash }: "FETCH|" + url + "|" + hash;
    lock = builtins.fromJSON (builtins.readFile ${join(REPO, "package-lock.json")});
    platform = ${platform};
  }`);

  const src = join(work, "src");
  await mkdir(join(src, "tarballs"), { recursive: true });
  let n = 0;
  for (const entry of Object.values(rewritten.packages)) {
    if (!entry.resolved?.startsWith("file:FETCH|")) continue;
    const [, url, hash] = entry.resolved.split("|") as [string, string, string];
    // The store path of a fetchurl is named after the URL's last component; ours too.
    const file = join(src, "tarballs", `${n++}-${url.slice(url.lastIndexOf("/") + 1)}`);
    if (existsSync(cachedTarball(hash))) await copyFile(cachedTarball(hash), file);
    entry.resolved = `file:${file}`;
  }
  lock = rewritten;
  await writeFile(join(src, "package-lock.json"), JSON.stringify(rewritten, null, 2));

  // The workspace: the root package.json and every workspace's package.json.
  await copyFile(join(REPO, "package.json"), join(src, "package.json"));
  for (const key of Object.keys(rewritten.packages)) {
    if (key === "" || key.includes("node_modules/")) continue;
    await mkdir(join(src, key), { recursive: true });
    await copyFile(join(REPO, key, "package.json"), join(src, key, "package.json"));
  }
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("npm install from the lock that nixos/lib.nix rewrites", () => {
  it("has every package npm installed here in the stand-in store (from npm's cache)", () => {
    const missing = Object.entries(lock.packages).filter(
      ([key, e]) => e.resolved?.startsWith("file:") && existsSync(join(REPO, key)) && !existsSync(e.resolved.slice(5)),
    );
    expect(missing.map(([k]) => k), "tarballs missing from ~/.npm/_cacache: run npm ci first").toEqual([]);
  });

  it("installs offline, with an empty cache and no registry, keeping the workspace links", async () => {
    const src = join(work, "src");
    await run("npm", ["install", "--ignore-scripts", "--offline", "--no-audit", "--no-fund"], {
      cwd: src,
      env: {
        ...process.env,
        npm_config_cache: join(work, "empty-cache"),
        npm_config_registry: "http://127.0.0.1:9/",
        npm_config_update_notifier: "false",
      },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 600_000,
    });
    // Every package installed in the real checkout is installed here, at the same place.
    const installed = Object.keys(lock.packages).filter((k) => k.includes("node_modules/") && existsSync(join(REPO, k)));
    expect(installed.length).toBeGreaterThan(100);
    const absent = installed.filter((k) => !existsSync(join(src, k)));
    expect(absent).toEqual([]);
    // Workspace packages are links to the folders, where `tsc -b` writes dist/.
    expect((await lstat(join(src, "node_modules/@attic-ts/core"))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(src, "node_modules/@attic-ts/core"))).toBe("../../packages/core");
    // The native addons' sources are there for `npm rebuild` to compile.
    for (const addon of ["sqlite3", "zstd-napi", "node-liblzma"]) {
      expect(existsSync(join(src, "node_modules", addon, "binding.gyp")), addon).toBe(true);
    }
    const smol = JSON.parse(await readFile(join(src, "node_modules/smol-toml/package.json"), "utf8")) as { version: string };
    expect(smol.version).toBe(JSON.parse(await readFile(join(REPO, "node_modules/smol-toml/package.json"), "utf8")).version);
  }, 600_000);
});
