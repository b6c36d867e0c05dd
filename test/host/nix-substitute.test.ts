import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequestHandler } from "@attic-ts/server-koa";
import { collect } from "../helpers/data.ts";
import { startTestEngine, TEST_MATRIX, type TestEngine } from "../helpers/engine.ts";
import { s3Settings } from "../helpers/s3.ts";
import { baseName, buildPath, dumpNar, nix, nixEnv, uploadInfoFor } from "../helpers/nix.ts";

/**
 * Stock Nix substituting from the Koa host, in every database × storage combination: paths
 * pushed over Attic's upload API are fetched by `nix copy --from http://...` with signatures
 * required, from a public cache anonymously and from a private one with netrc credentials
 * (which Nix sends as HTTP Basic). On S3 the (single-chunk) NARs are answered with a 307 to a
 * presigned URL on the gateway, which Nix must follow.
 */

let dep: string;
let top: string;

beforeAll(async () => {
  const tag = randomBytes(4).toString("hex");
  dep = await buildPath(`koa-subst-dep-${tag}`, `echo dependency ${tag} > $out`);
  top = await buildPath(`koa-subst-top-${tag}`, `echo ${dep} > $out`, [dep]);
});

describe.each(TEST_MATRIX)("nix copy --from the Koa host (require-sigs) (%s, %s)", (db, storage) => {
  let t: TestEngine;
  let server: Server;
  let base: string;
  let root: string;

  beforeAll(async () => {
    t = await startTestEngine({}, { db, storage });
    // atticd's handler: anonymous narinfo requests take the fast lane in front of the Koa app.
    const handler = createRequestHandler(t.engine);
    server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    // Named "localhost" so the cache and the S3 gateway (127.0.0.1) are different hosts, as in
    // any real deployment: curl sends a netrc entry's credentials to the redirect target when
    // the entry names that host too, and S3 refuses a presigned request that also carries an
    // Authorization header (400 InvalidArgument).
    base = `http://localhost:${(server.address() as AddressInfo).port}`;
    root = await t.engine.tokens!.mint({ sub: "root", validitySeconds: 3600, grants: [["*", { pull: true, push: true, createCache: true }]] });
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await t?.close();
  });

  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${root}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

  /** A fresh cache (Nix remembers narinfo lookups per URL), filled with `top` and its dependency. */
  async function filledCache(isPublic: boolean): Promise<{ name: string; publicKey: string }> {
    const name = `subst-${randomBytes(5).toString("hex")}`;
    const created = await api("POST", `/_api/v1/cache-config/${name}`, {
      keypair: "Generate",
      is_public: isPublic,
      store_dir: "/nix/store",
      priority: 41,
      upstream_cache_key_names: [],
    });
    expect(created.status).toBe(200);
    for (const path of [dep, top]) {
      const info = await uploadInfoFor(name, path);
      const nar = await collect(dumpNar(path));
      const res = await fetch(`${base}/_api/v1/upload-path`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${root}`, "X-Attic-Nar-Info": JSON.stringify(info) },
        body: nar,
      });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const config = (await (await api("GET", `/_api/v1/cache-config/${name}`)).json()) as { public_key: string };
    return { name, publicKey: config.public_key };
  }

  /** `nix copy --from` our cache into a fresh chroot store; resolves to that store's directory. */
  async function copyFrom(cache: string, trustedKey: string, extra: string[] = []): Promise<string> {
    const target = join(await mkdtemp(join(tmpdir(), "attic-ts-subst-")), "store");
    await nix(
      [
        "nix",
        "copy",
        "--from",
        `${base}/${cache}`,
        "--to",
        target,
        top,
        "--option",
        "trusted-public-keys",
        trustedKey,
        "--option",
        "require-sigs",
        "true",
        "--option",
        "narinfo-cache-negative-ttl",
        "0",
        ...extra,
      ],
      { env: nixEnv() },
    );
    return target;
  }

  async function expectCopied(target: string): Promise<void> {
    // A chroot store keeps its paths under <root>/nix/store.
    expect(await readFile(join(target, top), "utf8")).toBe(`${dep}\n`);
    expect(await readFile(join(target, dep), "utf8")).toMatch(/^dependency /);
  }

  /** Both NARs are below the chunking threshold: one chunk each, so S3 redirects. */
  async function expectNarAnswers(cache: string): Promise<void> {
    for (const path of [dep, top]) {
      const res = await fetch(`${base}/${cache}/nar/${baseName(path).slice(0, 32)}.nar`, { redirect: "manual", headers: { Authorization: `Bearer ${root}` } });
      if (storage === "s3") {
        expect(res.status).toBe(307);
        expect(res.headers.get("location")).toMatch(/X-Amz-Signature=/);
        expect(res.headers.get("location")!.startsWith(`${s3Settings().endpoint}/${t.s3!.bucket}/`)).toBe(true);
      } else {
        expect(res.status).toBe(200);
      }
      await res.arrayBuffer();
    }
  }

  it("substitutes from a public cache anonymously", async () => {
    const { name, publicKey } = await filledCache(true);
    expect(publicKey.startsWith(`${name}:`)).toBe(true);
    await expectNarAnswers(name);
    await expectCopied(await copyFrom(name, publicKey));
  });

  it("substitutes from a private cache with netrc credentials (HTTP Basic)", async () => {
    const { name, publicKey } = await filledCache(false);
    const pull = await t.engine.tokens!.mint({ sub: "nix", validitySeconds: 3600, grants: [[name, { pull: true }]] });
    const netrc = join(await mkdtemp(join(tmpdir(), "attic-ts-netrc-")), "netrc");
    await writeFile(netrc, `machine localhost login x password ${pull}\n`);
    await expectNarAnswers(name);
    await expectCopied(await copyFrom(name, publicKey, ["--option", "netrc-file", netrc]));
  });

  it("fails with a key that did not sign the narinfos", async () => {
    const { name } = await filledCache(true);
    const keyDir = await mkdtemp(join(tmpdir(), "attic-ts-wrongkey-"));
    await nix(["nix-store", "--generate-binary-cache-key", name, join(keyDir, "sk"), join(keyDir, "pk")]);
    const wrong = (await readFile(join(keyDir, "pk"), "utf8")).trim();
    await expect(copyFrom(name, wrong)).rejects.toThrow(/lacks a valid signature/);
  });

  it("fails for a private cache without credentials", async () => {
    const { name, publicKey } = await filledCache(false);
    // nix-cache-info answers 401, so Nix does not take the URL for a binary cache at all.
    await expect(copyFrom(name, publicKey)).rejects.toThrow(/does not appear to be a binary cache/);
    // And the server really refused: the narinfo needs a token.
    const anon = await fetch(`${base}/${name}/${baseName(top).slice(0, 32)}.narinfo`);
    expect(anon.status).toBe(401);
  });
});
