// Starts examples/koa-mount/src/main.ts as its own process on a free port and drives it over
// HTTP: the app's routes, then the cache under /cache with a token minted from the same
// secret, and finally a stock `nix copy --from` the prefixed substituter URL.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "@attic-ts/token";
import { collect } from "../../../test/helpers/data.ts";
import { baseName, buildPath, dumpNar, nix, nixEnv, uploadInfoFor } from "../../../test/helpers/nix.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SECRET = randomBytes(32).toString("base64");

interface App {
  child: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startApp(dataDir: string): Promise<App> {
  const child = spawn(
    process.execPath,
    [join(ROOT, "node_modules/tsx/dist/cli.mjs"), "--tsconfig", "tsconfig.base.json", "--conditions=source", "examples/koa-mount/src/main.ts"],
    {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: SECRET },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not listen in time:\n${output}`)), 60_000);
    const check = () => {
      const m = /Listening on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (${code}) before listening:\n${output}`));
    });
  });
  return { child, base, output: () => output, exited };
}

describe("examples/koa-mount", { timeout: 240_000 }, () => {
  let dataDir: string;
  let app: App | undefined;
  let dep: string;
  let top: string;
  let cache: string;
  let token: string;

  beforeAll(async () => {
    const tag = randomBytes(4).toString("hex");
    dep = await buildPath(`koa-mount-dep-${tag}`, `echo dependency ${tag} > $out`);
    top = await buildPath(`koa-mount-top-${tag}`, `echo ${dep} > $out`, [dep]);
    cache = `team-${tag}`;
    dataDir = await mkdtemp(join(tmpdir(), "attic-ts-koa-mount-test-"));
    app = await startApp(dataDir);
    token = await mintToken({
      secretBase64: SECRET,
      sub: "koa-mount-test",
      validity: "1 hour",
      grants: { "team-*": { pull: true, push: true, createCache: true } },
    });
  });

  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill("SIGKILL");
      await app.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  const auth = () => ({ Authorization: `Bearer ${token}` });

  it("answers the application's own routes next to the cache", async () => {
    const home = await fetch(`${app!.base}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("An existing Koa app");
    expect(home.headers.get("x-host-app")).toBe("koa-mount-example");
    const health = await fetch(`${app!.base}/healthz`);
    expect(await health.json()).toEqual({ status: "ok", cachePrefix: "/cache" });
    // Attic's landing page and its JSON 404 live under the prefix only.
    expect(await (await fetch(`${app!.base}/cache/`)).text()).toContain("attic push");
    const missing = await fetch(`${app!.base}/cache/a/b/c/d`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe("NotFound");
    expect(missing.headers.get("x-host-app")).toBe("koa-mount-example");
    // Outside the prefix, the app's router decides (Koa's plain 404, not Attic's JSON).
    const outside = await fetch(`${app!.base}/cachex/nix-cache-info`);
    expect(outside.status).toBe(404);
    expect(outside.headers.get("content-type")).not.toBe("application/json");
  });

  it("creates a cache, accepts uploads and serves narinfo under /cache with a minted token", async () => {
    const created = await fetch(`${app!.base}/cache/_api/v1/cache-config/${cache}`, {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] }),
    });
    expect(created.status, await created.clone().text()).toBe(200);

    // Private cache: anonymous is refused, the token reads it.
    expect((await fetch(`${app!.base}/cache/${cache}/nix-cache-info`)).status).toBe(401);
    const info = await fetch(`${app!.base}/cache/${cache}/nix-cache-info`, { headers: auth() });
    expect(info.status).toBe(200);
    expect(await info.text()).toContain("StoreDir: /nix/store");

    // The token's pattern does not cover this name.
    const other = await fetch(`${app!.base}/cache/_api/v1/cache-config/other-${cache}`, {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] }),
    });
    expect(other.status).toBe(401);

    for (const path of [dep, top]) {
      const up = await fetch(`${app!.base}/cache/_api/v1/upload-path`, {
        method: "PUT",
        headers: { ...auth(), "X-Attic-Nar-Info": JSON.stringify(await uploadInfoFor(cache, path)) },
        body: await collect(dumpNar(path)),
      });
      expect(up.status, await up.clone().text()).toBe(200);
    }
    const narinfo = await fetch(`${app!.base}/cache/${cache}/${baseName(top).slice(0, 32)}.narinfo`, { headers: auth() });
    expect(narinfo.status).toBe(200);
    const text = await narinfo.text();
    expect(text).toContain(`StorePath: ${top}`);
    expect(text).toContain(`References: ${baseName(dep)}`);
    expect(text).toMatch(/^Sig: team-[0-9a-f]+:/m);

    // The cache computes its own URLs with the prefix.
    const config = (await (await fetch(`${app!.base}/cache/_api/v1/cache-config/${cache}`, { headers: auth() })).json()) as Record<string, unknown>;
    expect(config).toMatchObject({ api_endpoint: `${app!.base}/cache/`, substituter_endpoint: `${app!.base}/cache/${cache}` });
  });

  it("lets a stock nix substitute from the prefixed URL (signatures required)", async () => {
    const config = (await (await fetch(`${app!.base}/cache/_api/v1/cache-config/${cache}`, { headers: auth() })).json()) as {
      public_key: string;
    };
    const scratch = await mkdtemp(join(tmpdir(), "attic-ts-koa-mount-nix-"));
    try {
      // Nix sends netrc credentials as HTTP Basic; the password is the token.
      const netrc = join(scratch, "netrc");
      await writeFile(netrc, `machine 127.0.0.1 login x password ${token}\n`);
      const target = join(scratch, "store");
      await nix(
        [
          "nix", "copy", "--from", `${app!.base}/cache/${cache}`, "--to", target, top,
          "--option", "trusted-public-keys", config.public_key,
          "--option", "require-sigs", "true",
          "--option", "narinfo-cache-negative-ttl", "0",
          "--option", "netrc-file", netrc,
        ],
        { env: nixEnv() },
      );
      expect(await readFile(join(target, top), "utf8")).toBe(`${dep}\n`);
      expect(await readFile(join(target, dep), "utf8")).toMatch(/^dependency /);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("stops cleanly on SIGTERM", async () => {
    app!.child.kill("SIGTERM");
    expect(await app!.exited).toBe(0);
  });
});
