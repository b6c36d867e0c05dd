import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  atticadm,
  buildDist,
  HS256_SECRET,
  sandbox,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
} from "../../packages/server-koa/test/cli-harness.ts";
import { provisionBackend, TEST_MATRIX, type BackendResources } from "../helpers/backend.ts";
import { collect } from "../helpers/data.ts";
import { snapshot } from "../helpers/engine.ts";
import { baseName, buildPath, dumpNar, nix, nixEnv, uploadInfoFor } from "../helpers/nix.ts";
import { s3Settings } from "../helpers/s3.ts";

/**
 * Issue #3's scenario with real processes: `atticd` as a child process on a free port, tokens
 * minted by `atticadm`, paths pushed the way the upstream client pushes them (path info from
 * `nix path-info --json`, NAR from `nix-store --dump`, header and preamble modes), then a stock
 * `nix copy --from` with signatures required; in every database × storage combination, the
 * server.toml naming a fresh PostgreSQL database and a fresh bucket on the run's Ceph RGW where
 * the combination says so. On S3, Nix follows the 307 to a presigned URL for each
 * (single-chunk) NAR.
 */

let dep: string;
let top: string;

beforeAll(async () => {
  await buildDist();
  const tag = randomBytes(4).toString("hex");
  dep = await buildPath(`proc-dep-${tag}`, `echo dependency ${tag} > $out`);
  top = await buildPath(`proc-top-${tag}`, `echo ${dep} > $out`, [dep]);
});

describe.each(TEST_MATRIX)("atticd as a process, with atticadm tokens and stock Nix (%s, %s)", (db, storage) => {
  let box: Sandbox;
  let backend: BackendResources;
  let inspect: Knex;
  let atticd: RunningAtticd;
  /** The address Nix uses: not 127.0.0.1, the gateway's host (see nix-substitute.test.ts). */
  let nixUrl: string;
  let configPath: string;
  let root: string;
  let readOnly: string;
  const cache = `proc-${randomBytes(4).toString("hex")}`;

  async function token(args: string[]): Promise<string> {
    const r = await atticadm(["-f", configPath, "make-token", "--sub", "tester", "--validity", "1 day", ...args], box.env);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  /** PUT /_api/v1/upload-path exactly as the upstream client does, in either mode. */
  async function push(path: string, jwt: string, mode: "header" | "preamble", mutate: (info: Record<string, unknown>) => void = () => {}) {
    const info: Record<string, unknown> = await uploadInfoFor(cache, path);
    mutate(info);
    const json = Buffer.from(JSON.stringify(info));
    const nar = await collect(dumpNar(path));
    const headers: Record<string, string> = { Authorization: `bearer ${jwt}`, "Content-Type": "application/octet-stream" };
    let body: Buffer;
    if (mode === "header") {
      headers["X-Attic-Nar-Info"] = json.toString();
      body = nar;
    } else {
      headers["X-Attic-Nar-Info-Preamble-Size"] = String(json.length);
      body = Buffer.concat([json, nar]);
    }
    return fetch(`${atticd.url}/_api/v1/upload-path`, { method: "PUT", headers, body });
  }

  async function copyFrom(trustedKey: string, extra: string[] = []): Promise<string> {
    const target = join(await mkdtemp(join(tmpdir(), "attic-ts-proc-")), "store");
    await nix(
      ["nix", "copy", "--from", `${nixUrl}/${cache}`, "--to", target, top,
        "--option", "trusted-public-keys", trustedKey, "--option", "require-sigs", "true",
        "--option", "narinfo-cache-negative-ttl", "0", "--option", "narinfo-cache-positive-ttl", "0", ...extra],
      { env: nixEnv() },
    );
    return target;
  }

  /** Rows and stored files (or bucket objects), as an operator would see them. */
  const state = () => snapshot({ inspect, storagePath: backend.storagePath, ...(backend.s3 ? { s3: backend.s3 } : {}) });

  /** Both NARs are single-chunk: S3 answers 307 to a presigned GET on the gateway, local storage streams. */
  async function expectNarAnswers(jwt: string): Promise<void> {
    for (const path of [dep, top]) {
      const res = await fetch(`${atticd.url}/${cache}/nar/${baseName(path).slice(0, 32)}.nar`, { redirect: "manual", headers: { Authorization: `Bearer ${jwt}` } });
      if (storage === "s3") {
        expect(res.status).toBe(307);
        expect(res.headers.get("location")!.startsWith(`${s3Settings().endpoint}/${backend.s3!.bucket}/`)).toBe(true);
        expect(res.headers.get("location")).toMatch(/X-Amz-Signature=/);
      } else {
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("application/x-nix-nar");
      }
      await res.arrayBuffer();
    }
  }

  beforeAll(async () => {
    box = await sandbox();
    backend = await provisionBackend(db, storage);
    inspect = backend.connect();
    const toml = [
      'listen = "127.0.0.1:0"',
      "",
      backend.toml(),
      "[chunking]\nnar-size-threshold = 65536\nmin-size = 16384\navg-size = 65536\nmax-size = 262144\n",
      `[jwt.signing]\ntoken-hs256-secret-base64 = "${HS256_SECRET}"\n`,
    ].join("\n");
    configPath = await writeConfig(box.dir, toml);
    atticd = await startAtticd(["-f", configPath, "--mode", "monolithic"], box.env);
    nixUrl = `http://localhost:${atticd.port}`;
    root = await token(["--pull", "*", "--push", "*", "--create-cache", "*", "--configure-cache", "*", "--destroy-cache", "*"]);
    readOnly = await token(["--pull", cache]);
  });

  afterAll(async () => {
    await atticd?.stop();
    await inspect?.destroy();
    await backend?.cleanup();
    await box?.cleanup();
  });

  let publicKey: string;

  it("creates a private cache with a root token", async () => {
    const res = await fetch(`${atticd.url}/_api/v1/cache-config/${cache}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${root}`, "Content-Type": "application/json" },
      body: JSON.stringify({ keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: ["cache.nixos.org-1"] }),
    });
    expect(res.status).toBe(200);
    const config = (await (await fetch(`${atticd.url}/_api/v1/cache-config/${cache}`, { headers: { Authorization: `Bearer ${root}` } })).json()) as { public_key: string };
    publicKey = config.public_key;
  });

  it("accepts pushes in header and preamble modes", async () => {
    const a = await push(dep, root, "header");
    expect(a.status, await a.clone().text()).toBe(200);
    expect(await a.json()).toMatchObject({ kind: "Uploaded" });
    const b = await push(top, root, "preamble");
    expect(b.status, await b.clone().text()).toBe(200);
  });

  it("refuses a push with a read-only token (403) and a wrong NAR hash (400), storing nothing", async () => {
    const before = await state();
    const ro = await push(top, readOnly, "header");
    expect(ro.status).toBe(403);
    expect(await ro.json()).toMatchObject({ code: 403, error: "AccessError" });
    const tag = randomBytes(4).toString("hex");
    const other = await buildPath(`proc-bad-${tag}`, `echo bad ${tag} > $out`);
    const bad = await push(other, root, "preamble", (info) => (info.nar_hash = `sha256:${"ab".repeat(32)}`));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ code: 400, error: "RequestError", message: "General request error: Bad NAR Hash or Size" });
    expect(await state()).toEqual(before);
  });

  it("answers 401 to anonymous requests on the private cache", async () => {
    const res = await fetch(`${atticd.url}/${cache}/nix-cache-info`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 401, error: "Unauthorized", message: "Unauthorized." });
    await expect(copyFrom(publicKey)).rejects.toThrow(/does not appear to be a binary cache|401/);
  });

  it("lets stock Nix substitute from the private cache with netrc credentials", async () => {
    const netrc = join(box.dir, "netrc");
    await writeFile(netrc, `machine localhost login x password ${readOnly}\n`);
    await expectNarAnswers(readOnly);
    const target = await copyFrom(publicKey, ["--option", "netrc-file", netrc]);
    expect(await readFile(join(target, top), "utf8")).toBe(`${dep}\n`);
  });

  it("serves HEAD, and anonymously once the cache is public", async () => {
    const narinfo = `${atticd.url}/${cache}/${baseName(top).slice(0, 32)}.narinfo`;
    const head = await fetch(narinfo, { method: "HEAD", headers: { Authorization: `Bearer ${readOnly}` } });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/x-nix-narinfo");
    const patch = await fetch(`${atticd.url}/_api/v1/cache-config/${cache}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${root}`, "Content-Type": "application/json" },
      body: JSON.stringify({ is_public: true }),
    });
    expect(patch.status).toBe(200);
    const anon = await fetch(narinfo);
    expect(anon.status).toBe(200);
    expect(anon.headers.get("x-attic-cache-visibility")).toBe("public");
    const target = await copyFrom(publicKey);
    expect(await readFile(join(target, dep), "utf8")).toMatch(/^dependency /);
  });

  it("destroys the cache, which then vanishes", async () => {
    const res = await fetch(`${atticd.url}/_api/v1/cache-config/${cache}`, { method: "DELETE", headers: { Authorization: `Bearer ${root}` } });
    expect(res.status).toBe(200);
    const gone = await fetch(`${atticd.url}/${cache}/nix-cache-info`, { headers: { Authorization: `Bearer ${root}` } });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: "NoSuchCache" });
  });
});
