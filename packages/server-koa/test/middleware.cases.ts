import { connect } from "node:net";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "@attic-ts/core";
import type { TestDb, TestStorage } from "../../../test/helpers/engine.ts";
import { atticMiddleware } from "../src/app.ts";
import { toHttpError } from "../src/middleware/error-handler.ts";
import { ALL, bearer, closeServer, get, listen, rawRequest, startServer, type TestServer } from "./server.ts";
import { createCacheHttp, infoFor, standardFixtures, uploadViaHeader, type NarFixture } from "./fixtures.ts";

interface Entry {
  level: string;
  bindings: Record<string, unknown>;
  obj: unknown;
  msg: string | undefined;
}

/** A Logger that records every call with the bindings of its child chain. */
function capturingLogger(entries: Entry[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (obj: object | string, msg?: string) => entries.push({ level, bindings, obj, msg });
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => capturingLogger(entries, { ...bindings, ...more }),
  };
}

const NOT_FOUND = JSON.stringify({ code: 404, error: "NotFound", message: "The URL you requested was not found." });

/**
 * The host's middleware against a server on `db` and `storage`: storage failures (lost files or
 * bucket objects) before and during a NAR, and Attic mounted under a prefix. `backendIndependent`
 * adds what never reaches stored data (routing, Host checks, the error mapping, 4xx logging):
 * the unit project runs it once on SQLite and local storage, the e2e matrix leaves it out.
 */
export function middlewareCases(db: TestDb, storage: TestStorage, { backendIndependent }: { backendIndependent: boolean }): void {
  /** Registers a case or a group only in the single-combination run. */
  const once = (name: string, fn: () => void | Promise<void>) => {
    if (backendIndependent) it(name, fn);
  };
  const onceDescribe = (name: string, fn: () => void) => {
    if (backendIndependent) describe(name, fn);
  };

  let s: TestServer;
  let root: string;
  let small: NarFixture;
  /** Separate paths for the tests that delete stored files, so no other test dedups onto them. */
  let doomed: { small: NarFixture; large: NarFixture };
  const logs: Entry[] = [];

  beforeAll(async () => {
    ({ small } = await standardFixtures("mw"));
    doomed = await standardFixtures("mw-doomed");
    s = await startServer({}, { logger: capturingLogger(logs) }, { db, storage });
    root = await s.token({ "*": ALL }, "root");
    await createCacheHttp(s.url, root, "pub", true);
  });

  afterAll(async () => s?.close());

  onceDescribe("routes and fallback", () => {
    it("GET / is the HTML placeholder; HEAD / has no body", async () => {
      const res = await get(`${s.url}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.text).toContain("attic push");
      const head = await get(`${s.url}/`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.text).toBe("");
    });

    it("anything unrouted is Attic's JSON 404 NotFound", async () => {
      for (const [method, path] of [
        ["GET", "/a/b/c/d"],
        ["GET", "/_api/v1/upload-path"],
        ["POST", "/pub/nix-cache-info"],
        ["GET", "/pub/nix-cache-info/"],
        ["GET", "/_api/v2/cache-config/pub"],
      ] as const) {
        const res = await get(`${s.url}${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.headers.get("content-type")).toBe("application/json");
        expect(res.text).toBe(NOT_FOUND);
      }
    });

    it("an invalid cache name in the path is 400 InvalidCacheName", async () => {
      const res = await get(`${s.url}/-x/nix-cache-info`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error).toBe("InvalidCacheName");
    });
  });

  onceDescribe("restrict_host", () => {
    it("answers 400 Missing Host header to an HTTP/1.0 request without Host", async () => {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connect(s.port, "127.0.0.1", () => socket.write("GET /pub/nix-cache-info HTTP/1.0\r\n\r\n"));
        let out = "";
        socket.on("data", (d) => (out += d.toString("utf8")));
        socket.on("end", () => resolve(out));
        socket.on("error", reject);
      });
      expect(text).toMatch(/^HTTP\/1\.[01] 400 /);
      expect(text.slice(text.indexOf("\r\n\r\n") + 4)).toBe(
        JSON.stringify({ code: 400, error: "RequestError", message: "General request error: Missing Host header" }),
      );
    });

    it("with allowed-hosts, only exact Host values (port included) pass", async () => {
      const strict = await startServer({ "allowed-hosts": ["cache.example:8080", "cache.example"] });
      try {
        await createCacheHttp(`http://127.0.0.1:${strict.port}`, await strict.token({ "*": ALL }), "pub", true).catch(() => {});
        const ask = (host: string) => rawRequest(strict.port, { path: "/", headers: { Host: host } });
        expect((await ask("cache.example:8080")).status).toBe(200);
        expect((await ask("cache.example")).status).toBe(200);
        for (const host of ["cache.example:9090", "other.example", "CACHE.EXAMPLE"]) {
          const res = await ask(host);
          expect(res.status, host).toBe(400);
          expect(res.text).toBe(JSON.stringify({ code: 400, error: "RequestError", message: "General request error: Bad Host" }));
        }
      } finally {
        await strict.close();
      }
    });

    it("the allowedHosts option overrides the config", async () => {
      const strict = await startServer({}, { allowedHosts: ["only.example"] });
      try {
        expect((await rawRequest(strict.port, { path: "/", headers: { Host: "only.example" } })).status).toBe(200);
        expect((await get(`${strict.url}/`)).status).toBe(400);
      } finally {
        await strict.close();
      }
    });
  });

  describe("errors and logging", () => {
    once("maps core errors by code, with Attic's sanitisation", () => {
      const err = (code: string, message: string, discoveryPermission = true) => Object.assign(new Error(message), { code, discoveryPermission });
      expect(toHttpError(err("NoSuchCache", "The requested cache does not exist."))).toEqual({ status: 404, name: "NoSuchCache", message: "The requested cache does not exist." });
      expect(toHttpError(err("NoSuchCache", "x", false))).toEqual({ status: 401, name: "Unauthorized", message: "Unauthorized." });
      expect(toHttpError(err("NoSuchObject", "x", false)).status).toBe(401);
      expect(toHttpError(err("AccessError", "Access error: no", false)).status).toBe(401);
      expect(toHttpError(err("AccessError", "Access error: no")).status).toBe(403);
      expect(toHttpError(err("RequestError", "General request error: x", false))).toEqual({ status: 400, name: "RequestError", message: "General request error: x" });
      expect(toHttpError(err("IncompleteNar", "m")).status).toBe(503);
      expect(toHttpError(err("InvalidCompressionType", "m")).status).toBe(400);
      expect(toHttpError(err("CacheAlreadyExists", "m")).status).toBe(400);
      for (const code of ["InvalidCacheName", "InvalidStorePath", "InvalidStorePathName", "InvalidStorePathHash", "HashError"]) {
        expect(toHttpError(err(code, "detail"))).toEqual({ status: 400, name: code, message: "detail" });
      }
      const internal = { status: 500, name: "InternalServerError", message: "The server encountered an internal error or misconfiguration." };
      for (const code of ["StorageError", "DatabaseError", "BlobNotFound", "SigningError", "ConfigError", "EACCES"]) {
        expect(toHttpError(err(code, "secret detail"))).toEqual(internal);
      }
      expect(toHttpError(new Error("plain"))).toEqual(internal);
      expect(toHttpError("a string")).toEqual(internal);
    });

    // Local storage only: the file is opened before the status is sent. On S3 a single-chunk
    // NAR is a redirect the server answers without asking the bucket (Attic does the same; see
    // the next case), and a multi-chunk NAR is streamed, so a lost chunk there breaks the
    // connection after the headers (the case after it), on local storage as well.
    const localOnly = (name: string, fn: () => Promise<void>) => {
      if (storage === "local") it(name, fn);
    };
    localOnly("a storage failure before the body is a generic 500, logged at error with the request id", async () => {
      await createCacheHttp(s.url, root, "broken1");
      expect((await uploadViaHeader(s.url, root, infoFor(doomed.small, "broken1"), doomed.small.nar)).status).toBe(200);
      expect(await deleteChunkFiles(doomed.small, "broken1", "all")).toBe(1);
      logs.length = 0;
      const res = await get(`${s.url}/broken1/nar/${doomed.small.hash}.nar`, { headers: bearer(root) });
      expect(res.status).toBe(500);
      expect(res.text).toBe(
        JSON.stringify({ code: 500, error: "InternalServerError", message: "The server encountered an internal error or misconfiguration." }),
      );
      const errors = logs.filter((e) => e.level === "error");
      expect(errors).toHaveLength(1);
      expect(typeof errors[0]!.bindings.reqId).toBe("string");
      expect(JSON.stringify((errors[0]!.obj as { err: Error }).err.message)).toContain(".chunk");
    });

    if (storage === "s3") {
      it("a single-chunk NAR whose object is gone is still a 307 (Attic does not check), and the presigned URL answers 404", async () => {
        await createCacheHttp(s.url, root, "broken3");
        expect((await uploadViaHeader(s.url, root, infoFor(doomed.small, "broken3"), doomed.small.nar)).status).toBe(200);
        expect(await deleteChunkFiles(doomed.small, "broken3", "all")).toBe(1);
        const res = await fetch(`${s.url}/broken3/nar/${doomed.small.hash}.nar`, { headers: bearer(root), redirect: "manual" });
        expect(res.status).toBe(307);
        expect((await fetch(res.headers.get("location")!)).status).toBe(404);
      });
    }

    once("4xx are logged at debug, not error", async () => {
      logs.length = 0;
      expect((await get(`${s.url}/nosuch/nix-cache-info`)).status).toBe(401);
      expect(logs.some((e) => e.level === "debug" && e.msg === "request rejected")).toBe(true);
      expect(logs.filter((e) => e.level === "error")).toEqual([]);
    });

    it("a storage failure in the middle of a streamed NAR breaks the connection instead of ending cleanly", async () => {
      await createCacheHttp(s.url, root, "broken2");
      expect((await uploadViaHeader(s.url, root, infoFor(doomed.large, "broken2"), doomed.large.nar)).status).toBe(200);
      const chunks = await deleteChunkFiles(doomed.large, "broken2", "last");
      expect(chunks).toBeGreaterThan(2);
      logs.length = 0;
      const outcome = await fetch(`${s.url}/broken2/nar/${doomed.large.hash}.nar`, { headers: bearer(root) }).then(
        async (res) => ({ status: res.status, bytes: (await res.arrayBuffer()).byteLength }),
        (err: unknown) => ({ failed: String(err) }),
      ).catch((err: unknown) => ({ failed: String(err) }));
      expect(outcome).toHaveProperty("failed");
      await new Promise((r) => setTimeout(r, 50));
      const errors = logs.filter((e) => e.level === "error");
      expect(errors.length).toBeGreaterThan(0);
      expect(typeof errors[0]!.bindings.reqId).toBe("string");
      // The server keeps serving.
      expect((await get(`${s.url}/pub/nix-cache-info`)).status).toBe(200);
    });
  });

  /**
   * Deletes the stored file or bucket object of the last chunk (or of every chunk) of a path's
   * NAR, the way a lost disk or bucket object would; returns the NAR's chunk count.
   */
  async function deleteChunkFiles(f: NarFixture, cache: string, which: "last" | "all"): Promise<number> {
    const rows = (await s.t
      .inspect("object")
      .join("cache", "cache.id", "object.cache_id")
      .join("chunkref", "chunkref.nar_id", "object.nar_id")
      .join("chunk", "chunk.id", "chunkref.chunk_id")
      .where({ "cache.name": cache, "object.store_path_hash": f.hash })
      .orderBy("chunkref.seq", "asc")
      .select("chunk.remote_file")) as Array<{ remote_file: string }>;
    const targets = which === "all" ? rows : rows.slice(-1);
    for (const row of targets) {
      const ref = JSON.parse(row.remote_file) as { Local?: { name: string }; S3?: { bucket: string; key: string } };
      if (ref.S3) {
        await s.t.s3!.client.send(new DeleteObjectCommand({ Bucket: ref.S3.bucket, Key: ref.S3.key }));
        continue;
      }
      const name = ref.Local!.name;
      await unlink(join(s.t.storagePath, name[0]!, name.slice(0, 2), name));
    }
    return rows.length;
  }

  describe("atticMiddleware under a prefix", () => {
    it("serves Attic under /cache next to the host app's own routes", async () => {
      const app = new Koa();
      app.use(async (ctx, next) => {
        if (ctx.path === "/hello") ctx.body = "host route";
        else await next();
      });
      app.use(atticMiddleware(s.t.engine, { prefix: "/cache" }));
      app.use(async (ctx) => {
        ctx.body = `after: ${ctx.path}`;
      });
      const { server, port } = await listen(app);
      const base = `http://127.0.0.1:${port}`;
      try {
        expect((await get(`${base}/hello`)).text).toBe("host route");
        expect((await get(`${base}/other/thing`)).text).toBe("after: /other/thing");
        expect((await get(`${base}/cachex/nix-cache-info`)).text).toBe("after: /cachex/nix-cache-info");

        const info = await get(`${base}/cache/pub/nix-cache-info`);
        expect(info.status).toBe(200);
        expect(info.headers.get("x-attic-cache-visibility")).toBe("public");
        expect((await get(`${base}/cache/`)).text).toContain("attic push");
        expect((await get(`${base}/cache`)).text).toContain("attic push");
        expect((await get(`${base}/cache/a/b/c/d`)).text).toBe(NOT_FOUND);

        const config = JSON.parse((await get(`${base}/cache/_api/v1/cache-config/pub`)).text);
        expect(config).toMatchObject({ api_endpoint: `${base}/cache/`, substituter_endpoint: `${base}/cache/pub` });

        const token = await s.token({ pub: { push: true, pull: true } });
        const up = await uploadViaHeader(`${base}/cache`, token, infoFor(small, "pub"), small.nar);
        expect(up.status).toBe(200);
        expect((await get(`${base}/cache/pub/${small.hash}.narinfo`)).status).toBe(200);
        expect((await fetch(`${base}/cache/pub/nar/${small.hash}.nar`)).status).toBe(200);
      } finally {
        await closeServer(server);
      }
    });
  });
}
