import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nix } from "../../../test/helpers/nix.ts";
import type { TestDb, TestStorage } from "../../../test/helpers/engine.ts";
import { ALL, bearer, get, rawRequest, startServer, type TestServer } from "./server.ts";

/**
 * The cache-config API (create, get, configure, destroy) against a server on `db` and
 * `storage`: every case reads or writes cache rows. `backendIndependent` adds the cases decided
 * before the database is asked (permission bits absent from the token, body and name
 * validation, endpoint synthesis from headers and config); the unit project runs them once on
 * SQLite and local storage, the e2e matrix leaves them out.
 */
export function cacheConfigCases(db: TestDb, storage: TestStorage, { backendIndependent }: { backendIndependent: boolean }): void {
  /** Registers a case only in the single-combination run. */
  const once = (name: string, fn: () => Promise<void>) => {
    if (backendIndependent) it(name, fn);
  };

  let s: TestServer;
  let root: string;

  beforeAll(async () => {
    s = await startServer({}, {}, { db, storage });
    root = await s.token({ "*": ALL }, "root");
  });

  afterAll(async () => s?.close());

  const CREATE = { keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: ["cache.nixos.org-1"] };

  function send(method: string, cache: string, token: string | null, body?: unknown, contentType = "application/json") {
    return fetch(`${s.url}/_api/v1/cache-config/${cache}`, {
      method,
      headers: { ...(token ? bearer(token) : {}), ...(body !== undefined ? { "Content-Type": contentType } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
  }

  async function expectEmpty200(res: Response): Promise<void> {
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("0");
    expect(res.headers.get("content-type")).toBeNull();
    expect(await res.text()).toBe("");
  }

  async function expectError(res: Response, code: number, error: string, message?: string): Promise<void> {
    expect(res.status).toBe(code);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["code", "error", "message"]);
    expect(body.code).toBe(code);
    expect(body.error).toBe(error);
    if (message !== undefined) expect(body.message).toBe(message);
  }

  async function config(cache: string, token: string | null = root) {
    const res = await get(`${s.url}/_api/v1/cache-config/${cache}`, token ? { headers: bearer(token) } : {});
    return { status: res.status, raw: res.text, json: res.status === 200 ? (JSON.parse(res.text) as Record<string, unknown>) : null };
  }

  describe("create (POST)", () => {
    it("creates with a generated keypair: 200 empty, then GET answers Attic's CacheConfig in key order", async () => {
      await expectEmpty200(await send("POST", "cc-gen", root, CREATE));
      const { json, raw } = await config("cc-gen");
      expect(Object.keys(json!)).toEqual([
        "substituter_endpoint",
        "api_endpoint",
        "public_key",
        "is_public",
        "store_dir",
        "priority",
        "upstream_cache_key_names",
        "retention_period",
      ]);
      expect(json).toMatchObject({
        substituter_endpoint: `${s.url}/cc-gen`,
        api_endpoint: `${s.url}/`,
        is_public: false,
        store_dir: "/nix/store",
        priority: 41,
        upstream_cache_key_names: ["cache.nixos.org-1"],
        retention_period: "Global",
      });
      expect(json!.public_key).toMatch(/^cc-gen:[A-Za-z0-9+/]{43}=$/);
      expect(raw).not.toContain("keypair");
    });

    it("imports a keypair made by nix-store --generate-binary-cache-key", async () => {
      const dir = await mkdtemp(join(tmpdir(), "attic-ts-key-"));
      await nix(["nix-store", "--generate-binary-cache-key", "imported-1", join(dir, "sk"), join(dir, "pk")]);
      const sk = (await readFile(join(dir, "sk"), "utf8")).trim();
      const pk = (await readFile(join(dir, "pk"), "utf8")).trim();
      await expectEmpty200(await send("POST", "cc-imported", root, { ...CREATE, keypair: { Keypair: sk } }));
      expect((await config("cc-imported")).json!.public_key).toBe(pk);
    });

    it("refuses an existing name with 400 CacheAlreadyExists", async () => {
      await expectEmpty200(await send("POST", "cc-dup", root, CREATE));
      await expectError(await send("POST", "cc-dup", root, CREATE), 400, "CacheAlreadyExists", "The cache already exists.");
    });

    once("needs cc: no permission at all is 401, another bit is 403", async () => {
      await expectError(await send("POST", "cc-denied", null, CREATE), 401, "Unauthorized", "Unauthorized.");
      await expectError(await send("POST", "cc-denied", await s.token({ "cc-other": ALL }), CREATE), 401, "Unauthorized");
      await expectError(await send("POST", "cc-denied", await s.token({ "cc-denied": { pull: true } }), CREATE), 403, "AccessError");
      expect((await config("cc-denied")).status).toBe(404);
    });

    once("rejects a bad body: missing keys, wrong Content-Type, invalid JSON", async () => {
      const { priority: _p, ...missing } = CREATE;
      await expectError(await send("POST", "cc-bad", root, missing), 400, "RequestError");
      await expectError(await send("POST", "cc-bad", root, JSON.stringify(CREATE), "text/plain"), 400, "RequestError",
        "General request error: Expected request with `Content-Type: application/json`");
      await expectError(await send("POST", "cc-bad", root, "{not json"), 400, "RequestError");
      await expectError(await send("POST", "cc-bad", root, { ...CREATE, keypair: { Keypair: "garbage" } }), 400, "RequestError");
      expect((await config("cc-bad")).status).toBe(404);
    });

    once("rejects an invalid cache name with 400 InvalidCacheName", async () => {
      await expectError(await send("POST", "-bad", root, CREATE), 400, "InvalidCacheName");
    });

    once("rejects a JSON body over 2 MB", async () => {
      const huge = { ...CREATE, upstream_cache_key_names: Array.from({ length: 160_000 }, (_, i) => `key-name-${i}`) };
      expect(JSON.stringify(huge).length).toBeGreaterThan(2 * 1024 * 1024);
      await expectError(await send("POST", "cc-huge", root, huge), 400, "RequestError");
      expect((await config("cc-huge")).status).toBe(404);
    });
  });

  describe("get (GET, and the attic-cache-info alias)", () => {
    beforeAll(async () => {
      await expectEmpty200(await send("POST", "cg-priv", root, CREATE));
      await expectEmpty200(await send("POST", "cg-pub", root, { ...CREATE, is_public: true }));
    });

    it("needs pull; public caches answer anonymously, without the visibility header", async () => {
      expect((await config("cg-priv", null)).status).toBe(401);
      expect((await config("cg-priv", await s.token({ "cg-priv": { pull: true } }))).status).toBe(200);
      expect((await config("cg-priv", await s.token({ "cg-priv": { push: true } }))).status).toBe(403);
      const res = await get(`${s.url}/_api/v1/cache-config/cg-pub`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-attic-cache-visibility")).toBeNull();
    });

    it("the alias answers the same JSON", async () => {
      const alias = await get(`${s.url}/cg-pub/attic-cache-info`);
      expect(alias.status).toBe(200);
      expect(alias.text).toBe((await config("cg-pub", null)).raw);
    });

    once("synthesizes https endpoints when X-Forwarded-Proto says https", async () => {
      const res = await get(`${s.url}/_api/v1/cache-config/cg-pub`, { headers: { "X-Forwarded-Proto": "https" } });
      expect(JSON.parse(res.text)).toMatchObject({ api_endpoint: `https://127.0.0.1:${s.port}/`, substituter_endpoint: `https://127.0.0.1:${s.port}/cg-pub` });
    });

    once("uses api-endpoint and substituter-endpoint from the config", async () => {
      const other = await startServer({ "api-endpoint": "https://api.example/", "substituter-endpoint": "https://cdn.example/" });
      try {
        const token = await other.token({ "*": ALL });
        const res = await fetch(`${other.url}/_api/v1/cache-config/ep`, {
          method: "POST",
          headers: { ...bearer(token), "Content-Type": "application/json" },
          body: JSON.stringify(CREATE),
        });
        expect(res.status).toBe(200);
        const got = JSON.parse((await get(`${other.url}/_api/v1/cache-config/ep`, { headers: bearer(token) })).text);
        expect(got).toMatchObject({ api_endpoint: "https://api.example/", substituter_endpoint: "https://cdn.example/ep" });
      } finally {
        await other.close();
      }
    });

    it("a missing cache is 404 NoSuchCache for someone with a permission on the name", async () => {
      const res = await fetch(`${s.url}/_api/v1/cache-config/cg-none`, { headers: bearer(root) });
      await expectError(res, 404, "NoSuchCache", "The requested cache does not exist.");
    });
  });

  describe("configure (PATCH)", () => {
    beforeAll(async () => {
      await expectEmpty200(await send("POST", "cp", root, CREATE));
    });

    it("changes settings and answers 200 empty", async () => {
      await expectEmpty200(await send("PATCH", "cp", root, { is_public: true, priority: 30, store_dir: "/nix/store", upstream_cache_key_names: [] }));
      expect((await config("cp", null)).json).toMatchObject({ is_public: true, priority: 30, upstream_cache_key_names: [] });
      const info = await get(`${s.url}/cp/nix-cache-info`);
      expect(info.text).toBe("WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 30\n");
    });

    once("ignores read-only fields and says so when nothing modifiable was set", async () => {
      await expectError(
        await send("PATCH", "cp", root, { public_key: "x", api_endpoint: "y", substituter_endpoint: "z" }),
        400,
        "RequestError",
        "General request error: No modifiable fields were set.",
      );
      await expectError(await send("PATCH", "cp", root, {}), 400, "RequestError", "General request error: No modifiable fields were set.");
    });

    it("regenerates the keypair with \"Generate\" and imports one with {\"Keypair\": ...}", async () => {
      const before = (await config("cp")).json!.public_key;
      await expectEmpty200(await send("PATCH", "cp", root, { keypair: "Generate" }));
      const after = (await config("cp")).json!.public_key;
      expect(after).not.toBe(before);
      expect(after).toMatch(/^cp:/);

      const dir = await mkdtemp(join(tmpdir(), "attic-ts-key-"));
      await nix(["nix-store", "--generate-binary-cache-key", "cp-2", join(dir, "sk"), join(dir, "pk")]);
      await expectEmpty200(await send("PATCH", "cp", root, { keypair: { Keypair: (await readFile(join(dir, "sk"), "utf8")).trim() } }));
      expect((await config("cp")).json!.public_key).toBe((await readFile(join(dir, "pk"), "utf8")).trim());
    });

    it("retention needs cq on top of cr; Period and Global round-trip", async () => {
      const crOnly = await s.token({ cp: { configureCache: true } });
      await expectError(await send("PATCH", "cp", crOnly, { retention_period: { Period: 3600 } }), 403, "AccessError");
      expect((await config("cp")).json!.retention_period).toBe("Global");

      const crCq = await s.token({ cp: { configureCache: true, configureCacheRetention: true } });
      await expectEmpty200(await send("PATCH", "cp", crCq, { retention_period: { Period: 3600 } }));
      expect((await config("cp")).raw).toContain('"retention_period":{"Period":3600}');
      await expectEmpty200(await send("PATCH", "cp", crCq, { retention_period: "Global" }));
      expect((await config("cp")).json!.retention_period).toBe("Global");
      await expectError(await send("PATCH", "cp", crCq, { retention_period: { Period: 2 ** 31 } }), 400, "RequestError", "General request error: Invalid retention period");
    });

    it("needs cr; strangers get 401 on a private cache but 403 on a public one (pull grant = discovery)", async () => {
      await expectEmpty200(await send("POST", "cp-priv", root, CREATE));
      await expectError(await send("PATCH", "cp-priv", await s.token({ "cp-priv": { pull: true } }), { priority: 1 }), 403, "AccessError");
      await expectError(await send("PATCH", "cp-priv", await s.token({ other: ALL }), { priority: 1 }), 401, "Unauthorized");
      await expectError(await send("PATCH", "cp", await s.token({ other: ALL }), { priority: 1 }), 403, "AccessError");
      expect((await config("cp-priv")).json!.priority).toBe(41);
    });
  });

  describe("destroy (DELETE)", () => {
    it("needs cd; then the cache vanishes from every route", async () => {
      await expectEmpty200(await send("POST", "cd-gone", root, { ...CREATE, is_public: true }));
      await expectError(await send("DELETE", "cd-gone", await s.token({ "cd-gone": { pull: true, configureCache: true } })), 403, "AccessError");
      await expectError(await send("DELETE", "cd-gone", null), 403, "AccessError");
      await expectEmpty200(await send("DELETE", "cd-gone", await s.token({ "cd-gone": { destroyCache: true } })));
      expect((await config("cd-gone")).status).toBe(404);
      expect((await get(`${s.url}/cd-gone/nix-cache-info`, { headers: bearer(root) })).status).toBe(404);
      // Anonymous callers had discovery through the public grant; the cache is gone, so now 401.
      expect((await get(`${s.url}/cd-gone/nix-cache-info`)).status).toBe(401);
      await expectError(await send("DELETE", "cd-gone", root), 404, "NoSuchCache");
    });

    it("works through node:http too (no body, no Content-Type)", async () => {
      await expectEmpty200(await send("POST", "cd-raw", root, CREATE));
      const res = await rawRequest(s.port, { method: "DELETE", path: "/_api/v1/cache-config/cd-raw", headers: bearer(root) });
      expect(res.status).toBe(200);
      expect(res.text).toBe("");
    });
  });
}
