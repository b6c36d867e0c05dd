import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDb, TestStorage } from "../../../test/helpers/engine.ts";
import { ALL, bearer, startServer, type TestServer } from "./server.ts";
import { createCacheHttp, infoFor, standardFixtures, uploadViaHeader, type NarFixture } from "./fixtures.ts";

/**
 * POST /_api/v1/get-missing-paths against a server on `db` and `storage`, with one of two paths
 * pushed. `backendIndependent` adds the permission and request-validation cases, which are
 * decided before any lookup of stored paths: the unit project runs them once on SQLite and
 * local storage, the e2e matrix leaves them out.
 */
export function getMissingPathsCases(db: TestDb, storage: TestStorage, { backendIndependent }: { backendIndependent: boolean }): void {
  let s: TestServer;
  let root: string;
  let small: NarFixture;
  let large: NarFixture;

  beforeAll(async () => {
    ({ small, large } = await standardFixtures("gmp"));
    s = await startServer({}, {}, { db, storage });
    root = await s.token({ "*": ALL }, "root");
    await createCacheHttp(s.url, root, "gmp");
    expect((await uploadViaHeader(s.url, root, infoFor(small, "gmp"), small.nar)).status).toBe(200);
  });

  afterAll(async () => s?.close());

  function ask(token: string | null, body: unknown, contentType = "application/json"): Promise<Response> {
    return fetch(`${s.url}/_api/v1/get-missing-paths`, {
      method: "POST",
      headers: { ...(token ? bearer(token) : {}), "Content-Type": contentType },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  describe("POST /_api/v1/get-missing-paths", () => {
    it("answers the requested hashes the cache lacks, duplicates collapsed", async () => {
      const res = await ask(root, { cache: "gmp", store_path_hashes: [small.hash, large.hash, large.hash] });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await res.text()).toBe(JSON.stringify({ missing_paths: [large.hash] }));
    });

    it("an empty list is an empty answer", async () => {
      const res = await ask(root, { cache: "gmp", store_path_hashes: [] });
      expect(await res.json()).toEqual({ missing_paths: [] });
    });

    it("a missing cache is 404 NoSuchCache for a token that may push there", async () => {
      const res = await ask(root, { cache: "gmp-none", store_path_hashes: [] });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe("NoSuchCache");
    });
  });

  if (!backendIndependent) return;

  describe("POST /_api/v1/get-missing-paths: permissions and validation", () => {
    it("needs push, not pull (the answer reveals the cache's contents)", async () => {
      const pull = await s.token({ gmp: { pull: true } });
      const res = await ask(pull, { cache: "gmp", store_path_hashes: [small.hash] });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toBe("AccessError");
      expect((await ask(null, { cache: "gmp", store_path_hashes: [small.hash] })).status).toBe(401);
      const push = await s.token({ gmp: { push: true } });
      expect((await ask(push, { cache: "gmp", store_path_hashes: [small.hash] })).status).toBe(200);
    });

    it("rejects malformed requests with 400 RequestError", async () => {
      for (const body of [
        { cache: "gmp" },
        { cache: 1, store_path_hashes: [] },
        { cache: "gmp", store_path_hashes: ["not-a-hash"] },
        { cache: "gmp", store_path_hashes: [1] },
        "[]",
        "{",
      ]) {
        const res = await ask(root, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(((await res.json()) as { error: string }).error).toBe("RequestError");
      }
      const text = await ask(root, { cache: "gmp", store_path_hashes: [] }, "text/plain");
      expect(text.status).toBe(400);
    });
  });
}
