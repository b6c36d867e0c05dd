import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pseudoRandomBytes } from "../../../test/helpers/data.ts";
import { snapshot as rawSnapshot, type TestDb, type TestEngine, type TestStorage } from "../../../test/helpers/engine.ts";
import { pendingUploads } from "../../../test/helpers/s3.ts";
import { ALL, bearer, get, rawRequest, startServer, type TestServer } from "./server.ts";
import { createCacheHttp, fetchNar, infoFor, narFixture, numChunks, standardFixtures, uploadViaHeader, uploadViaPreamble, type NarFixture } from "./fixtures.ts";

/** The shared snapshot, retried when a temporary upload file vanishes while it walks storage. */
async function snapshot(t: TestEngine): ReturnType<typeof rawSnapshot> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await rawSnapshot(t);
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT" || attempt > 20) throw err;
    }
  }
}

/**
 * PUT /_api/v1/upload-path against a server on `db` and `storage`: storing whole and chunked
 * NARs, rejected uploads and client disconnects that must leave no row, file or object behind.
 * `backendIndependent` adds the cases decided before anything is stored (header and preamble
 * parsing, size limits, permissions): the unit project runs them once on SQLite and local
 * storage, the e2e matrix leaves them out.
 */
export function uploadPathCases(db: TestDb, storage: TestStorage, { backendIndependent }: { backendIndependent: boolean }): void {
  /** Registers a case only in the single-combination run. */
  const once = (name: string, fn: () => Promise<void>) => {
    if (backendIndependent) it(name, fn);
  };

  let s: TestServer;
  let root: string;
  let small: NarFixture;
  let large: NarFixture;

  beforeAll(async () => {
    ({ small, large } = await standardFixtures("up"));
    s = await startServer({}, {}, { db, storage });
    root = await s.token({ "*": ALL }, "root");
    await createCacheHttp(s.url, root, "up");
  });

  afterAll(async () => s?.close());

  /** A fresh cache per test, so uploads in one test never deduplicate against another's. */
  let counter = 0;
  async function freshCache(): Promise<string> {
    const name = `up-${++counter}`;
    await createCacheHttp(s.url, root, name);
    return name;
  }

  async function expectRequestError(res: Response, detail: string): Promise<void> {
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.text()).toBe(JSON.stringify({ code: 400, error: "RequestError", message: `General request error: ${detail}` }));
  }

  async function servedNarinfo(cache: string, f: NarFixture): Promise<number> {
    return (await get(`${s.url}/${cache}/${f.hash}.narinfo`, { headers: bearer(root) })).status;
  }

  describe("upload via X-Attic-Nar-Info", () => {
    it("stores a small NAR and answers Attic's Uploaded JSON, then Deduplicated on a re-upload", async () => {
      const cache = await freshCache();
      const res = await uploadViaHeader(s.url, root, infoFor(small, cache), small.nar);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      const text = await res.text();
      expect(text).toMatch(/^\{"kind":"Uploaded","file_size":\d+,"frac_deduplicated":null\}$/);
      expect(await servedNarinfo(cache, small)).toBe(200);

      const again = await uploadViaHeader(s.url, root, infoFor(small, cache), small.nar);
      expect(again.status).toBe(200);
      expect(await again.text()).toBe('{"kind":"Deduplicated","frac_deduplicated":null}');
    });

    it("stores a chunked NAR and reports frac_deduplicated as a number", async () => {
      const cache = await freshCache();
      const res = await uploadViaHeader(s.url, root, infoFor(large, cache), large.nar);
      expect(res.status).toBe(200);
      const body = JSON.parse(await res.text()) as Record<string, unknown>;
      expect(Object.keys(body)).toEqual(["kind", "file_size", "frac_deduplicated"]);
      expect(body.kind).toBe("Uploaded");
      expect(typeof body.frac_deduplicated).toBe("number");
      expect(await servedNarinfo(cache, large)).toBe(200);
    });

    once("rejects a missing header, invalid JSON and invalid info with 400 RequestError", async () => {
      const res = await fetch(`${s.url}/_api/v1/upload-path`, { method: "PUT", headers: bearer(root), body: small.nar });
      await expectRequestError(res, "X-Attic-Nar-Info must be set");

      const bad = await fetch(`${s.url}/_api/v1/upload-path`, { method: "PUT", headers: { ...bearer(root), "X-Attic-Nar-Info": "{nope" }, body: small.nar });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe("RequestError");

      const { nar_size: _omit, ...incomplete } = infoFor(small, "up");
      const missingKey = await uploadViaHeader(s.url, root, incomplete, small.nar);
      expect(missingKey.status).toBe(400);
    });

    it("a wrong NAR hash is 400 Bad NAR Hash or Size and leaves nothing behind (whole and chunked)", async () => {
      const cache = await freshCache();
      for (const f of [small, large]) {
        const before = await snapshot(s.t);
        const wrong = infoFor(f, cache, { nar_hash: `sha256:${"ab".repeat(32)}` });
        await expectRequestError(await uploadViaHeader(s.url, root, wrong, f.nar), "Bad NAR Hash or Size");
        expect(await snapshot(s.t)).toEqual(before);
        expect(await servedNarinfo(cache, f)).toBe(404);
      }
    });

    it("a body shorter than nar_size is rejected and leaves nothing behind", async () => {
      const cache = await freshCache();
      const before = await snapshot(s.t);
      await expectRequestError(await uploadViaHeader(s.url, root, infoFor(small, cache), small.nar.subarray(0, 100)), "Bad NAR Hash or Size");
      expect(await snapshot(s.t)).toEqual(before);
    });

    once("a read-only token cannot push (403), a stranger gets 401, anonymous gets 401", async () => {
      const ro = await s.token({ up: { pull: true } });
      const res = await uploadViaHeader(s.url, ro, infoFor(small, "up"), small.nar);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({
        code: 403,
        error: "AccessError",
        message: "Access error: User does not have permission to complete this action.",
      });
      const stranger = await s.token({ elsewhere: ALL });
      expect((await uploadViaHeader(s.url, stranger, infoFor(small, "up"), small.nar)).status).toBe(401);
      expect((await uploadViaHeader(s.url, null, infoFor(small, "up"), small.nar)).status).toBe(401);
      expect(await servedNarinfo("up", small)).toBe(404);
    });

    once("accepts the token as the Basic auth password", async () => {
      const cache = await freshCache();
      const token = await s.token({ [cache]: { push: true } });
      const basic = `Basic ${Buffer.from(`x:${token}`).toString("base64")}`;
      const res = await uploadViaHeader(s.url, null, infoFor(small, cache), small.nar, { headers: { Authorization: basic } });
      expect(res.status).toBe(200);
      expect(await servedNarinfo(cache, small)).toBe(200);
    });
  });

  describe("upload via X-Attic-Nar-Info-Preamble-Size", () => {
    it("reads the info from the start of the body and the NAR after it", async () => {
      const cache = await freshCache();
      const fresh = await narFixture("koa-preamble", { "data.bin": Buffer.alloc(300_000).map((_, i) => (i * 40503) >>> 7) });
      const res = await uploadViaPreamble(s.url, root, infoFor(fresh, cache), fresh.nar);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { kind: string }).kind).toBe("Uploaded");
      const redirect = storage === "s3" && (await numChunks(s.t, fresh)) === 1;
      const { final: nar } = await fetchNar(`${s.url}/${cache}/nar/${fresh.hash}.nar`, { headers: bearer(root) }, redirect);
      expect(nar.status).toBe(200);
      expect((await nar.arrayBuffer()).byteLength).toBeGreaterThan(0);
    });

    once("works when the preamble and NAR arrive split across body slices", async () => {
      const cache = await freshCache();
      const preamble = Buffer.from(JSON.stringify(infoFor(small, cache)));
      const pieces = [preamble.subarray(0, 7), Buffer.concat([preamble.subarray(7), small.nar.subarray(0, 5)]), small.nar.subarray(5)];
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = pieces.shift();
          if (next) {
            controller.enqueue(new Uint8Array(next));
            await new Promise((r) => setTimeout(r, 20));
          } else controller.close();
        },
      });
      const res = await fetch(`${s.url}/_api/v1/upload-path`, {
        method: "PUT",
        headers: { ...bearer(root), "X-Attic-Nar-Info-Preamble-Size": String(preamble.length) },
        body,
        duplex: "half",
      } as RequestInit);
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await servedNarinfo(cache, small)).toBe(200);
    });

    once("is checked before X-Attic-Nar-Info", async () => {
      const res = await fetch(`${s.url}/_api/v1/upload-path`, {
        method: "PUT",
        headers: { ...bearer(root), "X-Attic-Nar-Info-Preamble-Size": "abc", "X-Attic-Nar-Info": JSON.stringify(infoFor(small, "up")) },
        body: small.nar,
      });
      await expectRequestError(res, "X-Attic-Nar-Info-Preamble-Size must be a valid unsigned integer");
    });

    once("rejects bad sizes with Attic's messages", async () => {
      const put = (size: string, body: Uint8Array = small.nar) =>
        fetch(`${s.url}/_api/v1/upload-path`, { method: "PUT", headers: { ...bearer(root), "X-Attic-Nar-Info-Preamble-Size": size }, body });
      for (const size of ["-1", "1.5", "", "0x10", "18446744073709551616"]) {
        await expectRequestError(await put(size), "X-Attic-Nar-Info-Preamble-Size must be a valid unsigned integer");
      }
      await expectRequestError(await put("1048577"), "Upload info is too large");
      await expectRequestError(await put("18446744073709551615"), "Upload info is too large");
      await expectRequestError(await put("5000", Buffer.from('{"cache":"up"}')), "Upload info doesn't match specified size");
    });

    once("rejects a non-ASCII size header as invalid encoding", async () => {
      const res = await rawRequest(s.port, {
        method: "PUT",
        path: "/_api/v1/upload-path",
        headers: { ...bearer(root), "X-Attic-Nar-Info-Preamble-Size": "1\u00e92" },
        body: small.nar,
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).message).toBe("General request error: X-Attic-Nar-Info-Preamble-Size has invalid encoding");
    });

    once("honours max-nar-info-size from the config", async () => {
      const limited = await startServer({ "max-nar-info-size": 64 });
      try {
        const token = await limited.token({ "*": ALL });
        await createCacheHttp(limited.url, token, "lim");
        const res = await uploadViaPreamble(limited.url, token, infoFor(small, "lim"), small.nar);
        await expectRequestError(res, "Upload info is too large");
        const viaHeader = await uploadViaHeader(limited.url, token, infoFor(small, "lim"), small.nar);
        expect(viaHeader.status).toBe(200);
      } finally {
        await limited.close();
      }
    });
  });

  /**
   * Sends two thirds of a NAR through `send`, waits until the engine has stored some chunks,
   * lets `disconnect` drop the connection, then waits for the state to return to what it was.
   */
  async function disconnectMidUpload(
    f: NarFixture,
    cache: string,
    start: (headers: Record<string, string>) => { write(bytes: Uint8Array): void; disconnect(): Promise<void> },
  ): Promise<void> {
    const before = await snapshot(s.t);
    const client = start({ ...bearer(root), "X-Attic-Nar-Info": JSON.stringify(infoFor(f, cache)) });
    const cut = Math.floor((f.nar.length * 2) / 3);
    for (let i = 0; i < cut; i += 65536) client.write(new Uint8Array(f.nar.subarray(i, Math.min(cut, i + 65536))));
    const deadline = Date.now() + 15_000;
    let during = await snapshot(s.t);
    while ((during.chunk <= before.chunk || during.files.length <= before.files.length) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      during = await snapshot(s.t);
    }
    // The upload really was under way: rows and files existed before the disconnect.
    expect(during.chunk).toBeGreaterThan(before.chunk);
    expect(during.files.length).toBeGreaterThan(before.files.length);

    await client.disconnect();
    let after = await snapshot(s.t);
    const cleanDeadline = Date.now() + 15_000;
    while (JSON.stringify(after) !== JSON.stringify(before) && Date.now() < cleanDeadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = await snapshot(s.t);
    }
    expect(after).toEqual(before);
    // S3: no multipart upload is left open either (they are invisible to ListObjects).
    if (s.t.s3) expect(await pendingUploads(s.t.s3.client, s.t.s3.bucket)).toEqual([]);
    expect(await servedNarinfo(cache, f)).toBe(404);
    // The server still works afterwards, and the same upload now succeeds.
    expect((await uploadViaHeader(s.url, root, infoFor(f, cache), f.nar)).status).toBe(200);
  }

  describe("client disconnect mid-upload", () => {
    it("fetch aborted with an AbortController: no rows and no files are left", async () => {
      const cache = await freshCache();
      // Periodic data: many identical chunks, so chunk-level dedup inside one upload is in play.
      const f = await narFixture("koa-disconnect", { "a.bin": Buffer.alloc(3_000_000, 1).map((_, i) => (i * 2654435761) >>> 24) });
      await disconnectMidUpload(f, cache, (headers) => {
        const abort = new AbortController();
        let controller!: ReadableStreamDefaultController<Uint8Array>;
        const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
        const pending = fetch(`${s.url}/_api/v1/upload-path`, { method: "PUT", headers, body, duplex: "half", signal: abort.signal } as RequestInit);
        pending.catch(() => {});
        return {
          write: (bytes) => controller.enqueue(bytes),
          async disconnect() {
            abort.abort();
            await expect(pending).rejects.toThrow();
          },
        };
      });
    });

    it("node:http request destroyed mid-body: no rows and no files are left", async () => {
      const cache = await freshCache();
      const f = await narFixture("koa-disconnect-raw", { "b.bin": pseudoRandomBytes(99, 2_000_000) });
      await disconnectMidUpload(f, cache, (headers) => {
        const req = httpRequest({ host: "127.0.0.1", port: s.port, method: "PUT", path: "/_api/v1/upload-path", headers });
        req.on("error", () => {});
        req.flushHeaders();
        return {
          write: (bytes) => void req.write(bytes),
          async disconnect() {
            req.destroy();
          },
        };
      });
    });
  });
}
