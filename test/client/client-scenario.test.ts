import { randomBytes } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  atticadm,
  buildDist,
  run,
  sandbox,
  serverToml,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
} from "../../packages/server-koa/test/cli-harness.ts";
import { PassThrough, Readable } from "node:stream";
import { main } from "../../packages/client/src/main.ts";
import { addFiles, baseName, buildPath, nix, requireNix } from "../helpers/nix.ts";
import { attic, startAttic } from "./attic-client.ts";

/**
 * Attic's NixOS test scenario (integration-tests/basic, steps 1–7 and 9–10) with real
 * processes: atticd on SQLite + local storage, tokens from atticadm, the attic-ts client as a
 * child process, and stock Nix 2.8 realising paths through the nix.conf and netrc that
 * `attic use` wrote. Plus watch-store and closure pushes.
 */

let box: Sandbox;
let atticd: RunningAtticd;
let configPath: string;
let clientEnv: NodeJS.ProcessEnv;
let rootToken: string;
const tag = randomBytes(4).toString("hex");
const cache = `client-${tag}`;

async function token(sub: string, args: string[]): Promise<string> {
  const r = await atticadm(["-f", configPath, "make-token", "--sub", sub, "--validity", "1 month", ...args], box.env);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function ok(args: string[], input?: string) {
  const r = await attic(args, clientEnv, input);
  expect(r.code, `attic ${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r;
}

/**
 * Realises `paths` into a fresh, empty store with stock Nix, which reads the user nix.conf
 * (substituters, trusted-public-keys, netrc-file) that `attic use` wrote. Signatures are
 * required, so a wrong key fails.
 */
async function realise(paths: string[]): Promise<string> {
  const store = join(await mkdtemp(join(tmpdir(), "attic-ts-client-store-")), "store");
  const env = { ...clientEnv, NIX_CONFIG: "experimental-features = nix-command\nrequire-sigs = true\nnarinfo-cache-negative-ttl = 0\n" };
  const r = await run("nix-store", ["--store", store, "-r", ...paths], { env });
  expect(r.code, `nix-store -r failed:\n${r.stderr}`).toBe(0);
  return store;
}

/** Hashes (of `paths`) the cache lacks, asked with the root token. */
async function missing(paths: string[]): Promise<string[]> {
  const res = await fetch(`${atticd.url}/_api/v1/get-missing-paths`, {
    method: "POST",
    headers: { Authorization: `Bearer ${rootToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ cache, store_path_hashes: paths.map((p) => baseName(p).slice(0, 32)) }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { missing_paths: string[] }).missing_paths;
}

const hashOf = (p: string) => baseName(p).slice(0, 32);

beforeAll(async () => {
  await requireNix();
  await buildDist();
  box = await sandbox();
  configPath = await writeConfig(box.dir, serverToml(box.dir));
  atticd = await startAtticd(["-f", configPath, "--mode", "monolithic"], box.env);
  clientEnv = { ...box.env, NIX_CONFIG: "substituters =\nexperimental-features = nix-command\n" };
  // Step 1: root, read-only and anonymous profiles.
  rootToken = await token("e2e-root", [
    "--pull", "*", "--push", "*", "--delete", "*", "--create-cache", "*",
    "--configure-cache", "*", "--configure-cache-retention", "*", "--destroy-cache", "*",
  ]);
  const readOnly = await token("e2e-readonly", ["--pull", cache]);
  const configurer = await token("e2e-configurer", ["--pull", cache, "--configure-cache", cache]);
  await ok(["login", "--set-default", "root", atticd.url, rootToken]);
  await ok(["login", "readonly", atticd.url, readOnly]);
  await ok(["login", "anon", atticd.url]);
  await ok(["login", "configurer", atticd.url, configurer]);
});

afterAll(async () => {
  await atticd?.stop();
  await box?.cleanup();
});

describe("attic client against atticd with stock Nix (Attic's NixOS test)", () => {
  let hello: string;

  it("step 2: creates a private cache", async () => {
    const r = await ok(["cache", "create", cache]);
    expect(r.stderr).toContain(`✨ Created cache "${cache}" on "root"`);
    const info = await ok(["cache", "info", cache]);
    expect(info.stderr).toContain("               Public: false");
  });

  it("steps 3–4: pushes a built path, then `use readonly:` lets Nix realise it into an empty store", async () => {
    hello = await buildPath(`client-hello-${tag}`, `echo hello ${tag} > $out`);
    const push = await ok(["push", cache, hello]);
    expect(push.stderr).toContain(`⚙️ Pushing 1 paths to "${cache}" on "root" (0 already cached, 0 in upstream)...`);
    expect(push.stderr).toContain(`✅ ${hello} (`);
    expect(await missing([hello])).toEqual([]);

    // Before `attic use`, Nix knows no substituter for it.
    const before = await run("nix-store", ["--store", join(await mkdtemp(join(tmpdir(), "attic-ts-client-store-")), "store"), "-r", hello], {
      env: { ...clientEnv, NIX_CONFIG: "experimental-features = nix-command\nnarinfo-cache-negative-ttl = 0\n" },
    });
    expect(before.code).not.toBe(0);

    const use = await ok(["use", `readonly:${cache}`]);
    expect(use.stderr).toContain("+ Access Token");
    const nixConf = await readFile(join(box.env.XDG_CONFIG_HOME!, "nix", "nix.conf"), "utf8");
    const { public_key } = (await (await fetch(`${atticd.url}/_api/v1/cache-config/${cache}`, { headers: { Authorization: `Bearer ${rootToken}` } })).json()) as { public_key: string };
    expect(nixConf).toContain(`substituters = ${atticd.url}/${cache} https://cache.nixos.org\n`);
    expect(nixConf).toContain(`trusted-public-keys = ${public_key} cache.nixos.org-1:`);
    expect(nixConf).toMatch(/^netrc-file = .*\/nix\/netrc$/m);
    expect(await readFile(join(box.env.XDG_CONFIG_HOME!, "nix", "netrc"), "utf8")).toMatch(/^machine 127\.0\.0\.1\npassword ey/);

    const store = await realise([hello]);
    expect(await readFile(join(store, hello), "utf8")).toBe(`hello ${tag}\n`);
  });

  it("step 5: read-only and anonymous pushes fail with the server's error", async () => {
    const path = await addFiles(`client-denied-${tag}`, { f: `denied ${tag}` });
    const ro = await attic(["push", `readonly:${cache}`, path], clientEnv);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toContain("AccessError: Access error: User does not have permission to complete this action.");
    const anon = await attic(["push", `anon:${cache}`, path], clientEnv);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toContain("Unauthorized: Unauthorized.");
    expect(await missing([path])).toEqual([hashOf(path)]);
    const bogus = `/nix/store/${"a".repeat(32)}-client-missing-${tag}`;
    const invalid = await attic(["push", cache, bogus], clientEnv);
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toContain(`path '${bogus}' is not valid`);
  });

  it("step 6: pushes ten paths through --stdin and realises them all", async () => {
    const paths: string[] = [];
    for (let i = 0; i < 10; i++) paths.push(await addFiles(`client-stdin-${i}-${tag}`, { file: `stdin ${i} ${tag}` }));
    const r = await ok(["push", cache, "--stdin"], paths.map((p) => `${p}\n`).join("") + "\n");
    for (const p of paths) expect(r.stderr).toContain(`✅ ${p} (`);
    expect(await missing(paths)).toEqual([]);
    const store = await realise(paths);
    for (const [i, p] of paths.entries()) expect(await readFile(join(store, p, "file"), "utf8")).toBe(`stdin ${i} ${tag}`);
  });

  it("step 7: refuses anonymous reads until `configure --public` (sent without retention: no cq needed)", async () => {
    const narinfo = `${atticd.url}/${cache}/${hashOf(hello)}.narinfo`;
    expect((await fetch(`${atticd.url}/${cache}/nix-cache-info`)).status).toBe(401);
    expect((await fetch(narinfo)).status).toBe(401);
    const anonInfo = await attic(["cache", "info", `anon:${cache}`], clientEnv);
    expect(anonInfo.code).not.toBe(0);
    expect(anonInfo.stderr).toContain("Unauthorized: Unauthorized.");

    // The configurer token has `cr` but not `cq`: Attic's client would fail here (#350).
    const r = await ok(["cache", "configure", `configurer:${cache}`, "--public"]);
    expect(r.stderr).toContain(`✅ Configured "${cache}" on "configurer"`);
    expect((await fetch(`${atticd.url}/${cache}/nix-cache-info`)).status).toBe(200);
    expect((await fetch(narinfo)).status).toBe(200);
    expect((await ok(["cache", "info", `anon:${cache}`])).stderr).toContain("Public: true");
    // Retention needs cq, which that token lacks.
    const denied = await attic(["cache", "configure", `configurer:${cache}`, "--retention-period", "1d"], clientEnv);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("AccessError:");
  });

  it("step 9: pushes with --force-preamble and realises the path", async () => {
    const path = await buildPath(`client-preamble-${tag}`, `echo preamble ${tag} > $out`);
    const r = await ok(["push", "--force-preamble", cache, path]);
    expect(r.stderr).toContain(`✅ ${path} (`);
    const store = await realise([path]);
    expect(await readFile(join(store, path), "utf8")).toBe(`preamble ${tag}\n`);
  });

  it("pushes a path's closure, and only the path with --no-closure", async () => {
    const dep = await buildPath(`client-dep-${tag}`, `echo dep ${tag} > $out`);
    const top = await buildPath(`client-top-${tag}`, `echo ${dep} > $out`, [dep]);
    const only = await ok(["push", "--no-closure", cache, top]);
    expect(only.stderr).toContain("⚙️ Pushing 1 paths");
    expect(await missing([top, dep])).toEqual([hashOf(dep)]);

    const all = await ok(["push", cache, top]);
    expect(all.stderr).toContain("⚙️ Pushing 1 paths");
    expect(all.stderr).toContain("(1 already cached, 0 in upstream)");
    expect(all.stderr).toContain(`✅ ${dep} (`);
    expect(await missing([top, dep])).toEqual([]);
    const again = await ok(["push", cache, top]);
    expect(again.stderr).toContain("✅ All done! (2 already cached, 0 in upstream)");
    const store = await realise([top]);
    expect(await readFile(join(store, dep), "utf8")).toBe(`dep ${tag}\n`);
  });

  it("watch-store pushes a path added to the store while it runs", async () => {
    const watcher = startAttic(["watch-store", cache], clientEnv);
    try {
      await watcher.waitFor(/👀 Pushing new store paths to/);
      const path = await addFiles(`client-watched-${tag}`, { f: `watched ${tag}` });
      await watcher.waitFor(new RegExp(`✅ ${path.replace(/[.+]/g, "\\$&")} \\(`), 30_000);
      expect(await missing([path])).toEqual([]);
    } finally {
      const exit = await watcher.stop("SIGTERM");
      expect(exit.code, watcher.stderr()).toBe(0);
    }
  });

  it("skips paths signed by an upstream key unless --ignore-upstream-cache-filter", async () => {
    const keyDir = await mkdtemp(join(tmpdir(), "attic-ts-client-key-"));
    await nix(["nix-store", "--generate-binary-cache-key", "cache.nixos.org-1", join(keyDir, "sk"), join(keyDir, "pk")]);
    const path = await addFiles(`client-upstream-${tag}`, { f: `upstream ${tag}` });
    await nix(["nix", "store", "sign", "--key-file", join(keyDir, "sk"), path]);
    const skipped = await ok(["push", cache, path]);
    expect(skipped.stderr).toContain("✅ All done! (0 already cached, 1 in upstream)");
    expect(await missing([path])).toEqual([hashOf(path)]);
    const pushed = await ok(["push", "--ignore-upstream-cache-filter", cache, path]);
    expect(pushed.stderr).toContain(`✅ ${path} (`);
    expect(await missing([path])).toEqual([]);
  });

  it("streams multi-chunk NARs in parallel and reports NAR-level deduplication", async () => {
    // Same file content under two names: identical NARs, so the second is deduplicated.
    const data = randomBytes(3 * 1024 * 1024);
    const a = await addFiles(`client-big-a-${tag}`, { blob: data });
    const small = await addFiles(`client-small-${tag}`, { f: `small ${tag}` });
    const first = await ok(["push", "-j", "2", cache, a, small]);
    expect(first.stderr).toMatch(new RegExp(`✅ ${a} \\([\\d.]+ (B|KiB|MiB|GiB)/s`));
    const b = await addFiles(`client-big-b-${tag}`, { blob: data });
    const second = await ok(["push", cache, b]);
    expect(second.stderr).toContain(`✅ ${b} (deduplicated)`);
    const store = await realise([a, b]);
    expect((await readFile(join(store, b, "blob"))).equals(data)).toBe(true);
  });

  it("draws progress bars on a terminal (in-process, isTTY)", async () => {
    const paths = [
      await addFiles(`client-tty-1-${tag}`, { blob: randomBytes(512 * 1024) }),
      await addFiles(`client-tty-2-${tag}`, { f: `tty ${tag}` }),
    ];
    const stderr = new PassThrough();
    let text = "";
    stderr.on("data", (d: Buffer) => (text += d.toString()));
    const code = await main(["push", cache, ...paths], clientEnv, { stdin: Readable.from([]), stdout: new PassThrough(), stderr, isTTY: true });
    expect(code, text).toBe(0);
    expect(text).toContain("⚙️ Pushing 2 paths");
    expect(text).toMatch(/Overall .* paths .*% deduplicated\)/);
    for (const p of paths) expect(text).toContain(`✅ ${p} (`);
    expect(await missing(paths)).toEqual([]);
  });

  it("step 10: cache info works, destroy makes the cache vanish", async () => {
    const info = await ok(["cache", "info", cache]);
    expect(info.stderr).toContain(`Binary Cache Endpoint: ${atticd.url}/${cache}`);
    expect(info.stderr).toContain("     Retention Period: Global Default");
    const destroy = await ok(["cache", "destroy", "--no-confirm", cache]);
    expect(destroy.stderr).toContain("🗑️ The cache was destroyed.");
    const gone = await attic(["cache", "info", cache], clientEnv);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain("NoSuchCache: The requested cache does not exist.");
    const res = await fetch(`${atticd.url}/${cache}/nix-cache-info`, { headers: { Authorization: `Bearer ${rootToken}` } });
    expect(res.status).toBe(404);
  });
});
