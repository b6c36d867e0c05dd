import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { narInfoFingerprint, parseNarInfo, parsePublicKey, parseTypedHash, toTypedBase16, verifySignature, type CompressionType } from "@attic-ts/core";
import { NativeCompressor } from "@attic-ts/compression";
import { collect, slices } from "../../../test/helpers/data.ts";
import type { TestDb, TestStorage } from "../../../test/helpers/engine.ts";
import { ALL, bearer, get, startServer, type TestServer } from "./server.ts";
import { createCacheHttp, fetchNar, infoFor, numChunks, standardFixtures, uploadViaHeader, type NarFixture } from "./fixtures.ts";

const ERROR_JSON = "application/json";

/**
 * The binary cache routes (nix-cache-info, narinfo, nar) against a server on `db` and
 * `storage`, with a private and a public cache each holding a whole and a chunked NAR.
 * `backendIndependent` adds the cases that never reach stored data (visibility and discovery
 * rules decided from the token and the cache row, and URL routing): the unit project runs them
 * once on SQLite and local storage; the matrix in the e2e project leaves them out.
 */
export function binaryCacheCases(db: TestDb, storage: TestStorage, { backendIndependent }: { backendIndependent: boolean }): void {
  let s: TestServer;
  let root: string;
  let small: NarFixture;
  let large: NarFixture;
  const decoder = new NativeCompressor({ workers: 1 });

  /** S3 answers a single-chunk NAR with a redirect (Attic's 307); everything else is streamed. */
  const redirects = async (f: NarFixture) => storage === "s3" && (await numChunks(s.t, f)) === 1;

  beforeAll(async () => {
    ({ small, large } = await standardFixtures("bc"));
    s = await startServer({}, {}, { db, storage });
    root = await s.token({ "*": ALL }, "root");
    await createCacheHttp(s.url, root, "priv");
    await createCacheHttp(s.url, root, "pub", true);
    for (const cache of ["priv", "pub"]) {
      for (const f of [small, large]) {
        const res = await uploadViaHeader(s.url, root, infoFor(f, cache), f.nar);
        expect(res.status, await res.clone().text()).toBe(200);
      }
    }
  });

  afterAll(async () => {
    await s?.close();
    await decoder.close();
  });

  if (backendIndependent) {
    describe("nix-cache-info", () => {
      it("answers Attic's three lines in order with its MIME type", async () => {
        const res = await get(`${s.url}/priv/nix-cache-info`, { headers: bearer(await s.token({ priv: { pull: true } })) });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("text/x-nix-cache-info");
        expect(res.text).toBe("WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 41\n");
        expect(res.headers.get("x-attic-cache-visibility")).toBeNull();
      });

      it("serves a public cache to anyone and says so in X-Attic-Cache-Visibility", async () => {
        const res = await get(`${s.url}/pub/nix-cache-info`);
        expect(res.status).toBe(200);
        expect(res.headers.get("x-attic-cache-visibility")).toBe("public");
      });

      it("HEAD runs the same handler and sends no body", async () => {
        const res = await get(`${s.url}/pub/nix-cache-info`, { method: "HEAD" });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("text/x-nix-cache-info");
        expect(res.text).toBe("");
      });
    });

    describe("discovery rules (401 / 403 / 404)", () => {
      const expectError = async (res: Awaited<ReturnType<typeof get>>, code: number, error: string, message: string) => {
        expect(res.status).toBe(code);
        expect(res.headers.get("content-type")).toBe(ERROR_JSON);
        expect(res.text).toBe(JSON.stringify({ code, error, message }));
      };

      it("anonymous on a private cache: 401 Unauthorized", async () => {
        await expectError(await get(`${s.url}/priv/nix-cache-info`), 401, "Unauthorized", "Unauthorized.");
        await expectError(await get(`${s.url}/priv/${small.hash}.narinfo`), 401, "Unauthorized", "Unauthorized.");
        await expectError(await get(`${s.url}/priv/nar/${small.hash}.nar`), 401, "Unauthorized", "Unauthorized.");
      });

      it("a token without any bit on that cache: 401", async () => {
        const other = await s.token({ "other-*": ALL });
        await expectError(await get(`${s.url}/priv/nix-cache-info`, { headers: bearer(other) }), 401, "Unauthorized", "Unauthorized.");
      });

      it("a token with another bit but not pull: 403 AccessError", async () => {
        const pushOnly = await s.token({ priv: { push: true } });
        await expectError(
          await get(`${s.url}/priv/nix-cache-info`, { headers: bearer(pushOnly) }),
          403,
          "AccessError",
          "Access error: User does not have permission to complete this action.",
        );
      });

      it("a missing cache: 404 NoSuchCache with some permission on the name, 401 without", async () => {
        const some = await s.token({ "*": { pull: true } });
        await expectError(
          await get(`${s.url}/nosuch/nix-cache-info`, { headers: bearer(some) }),
          404,
          "NoSuchCache",
          "The requested cache does not exist.",
        );
        await expectError(await get(`${s.url}/nosuch/nix-cache-info`), 401, "Unauthorized", "Unauthorized.");
      });

      it("a missing object: 404 NoSuchObject for a puller", async () => {
        const missing = "0".repeat(32);
        await expectError(await get(`${s.url}/pub/${missing}.narinfo`), 404, "NoSuchObject", "The requested object does not exist.");
      });

      it("an invalid token is ignored: the request is anonymous", async () => {
        const bad = { Authorization: "Bearer not.a.jwt" };
        expect((await get(`${s.url}/pub/nix-cache-info`, { headers: bad })).status).toBe(200);
        expect((await get(`${s.url}/priv/nix-cache-info`, { headers: bad })).status).toBe(401);
      });

      it("Basic auth with the token as password is accepted (how Nix sends netrc)", async () => {
        const token = await s.token({ priv: { pull: true } });
        const basic = { Authorization: `Basic ${Buffer.from(`anyone:${token}`).toString("base64")}` };
        expect((await get(`${s.url}/priv/nix-cache-info`, { headers: basic })).status).toBe(200);
      });
    });

    describe("URLs that are not a narinfo or a NAR", () => {
      it("anything but <hash>.narinfo is a plain 404 NotFound (.ls included)", async () => {
        for (const file of [`${small.hash}.ls`, `${small.hash}.narinfo.xz`, small.hash]) {
          const res = await get(`${s.url}/pub/${file}`);
          expect(res.status, file).toBe(404);
          expect(JSON.parse(res.text)).toEqual({ code: 404, error: "NotFound", message: "The URL you requested was not found." });
        }
      });

      it("anything but <hash>.nar is 404 NotFound (.nar.zst included)", async () => {
        const res = await get(`${s.url}/pub/nar/${small.hash}.nar.zst`);
        expect(res.status).toBe(404);
        expect(JSON.parse(res.text).error).toBe("NotFound");
      });
    });
  }

  describe("narinfo", () => {
    it("has Attic's fields in order, its MIME type, and a valid signature", async () => {
      for (const f of [small, large]) {
        const res = await get(`${s.url}/pub/${f.hash}.narinfo`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("text/x-nix-narinfo");
        expect(res.headers.get("x-attic-cache-visibility")).toBe("public");
        const keys = res.text.trimEnd().split("\n").map((line) => line.slice(0, line.indexOf(":")));
        const expected = ["StorePath", "URL", "Compression", "NarHash", "NarSize", "References", "Sig", ...(f.info.ca ? ["CA"] : [])];
        expect(keys).toEqual(expected);
        const narinfo = parseNarInfo(res.text);
        expect(narinfo.storePath).toBe(f.path);
        expect(narinfo.url).toBe(`nar/${f.hash}.nar`);
        expect(res.text).toContain(`\nNarHash: ${toTypedBase16(parseTypedHash(f.info.nar_hash))}\n`);
        expect(narinfo.narSize).toBe(f.nar.length);
        const config = JSON.parse((await get(`${s.url}/pub/attic-cache-info`)).text) as { public_key: string };
        expect(verifySignature(parsePublicKey(config.public_key), narInfoFingerprint(narinfo), narinfo.sigs[0]!)).toBe(true);
      }
    });

    it("HEAD answers the headers of GET with no body", async () => {
      const got = await get(`${s.url}/pub/${small.hash}.narinfo`);
      const head = await get(`${s.url}/pub/${small.hash}.narinfo`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toBe("text/x-nix-narinfo");
      expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(got.text)));
      expect(head.text).toBe("");
    });

    // The lookup is one statement (cache row, object and NAR together), so these check that the
    // answers still follow the cache row first: no such cache, then access, then the object.
    describe("one-statement lookup: the same answers as cache first, then object", () => {
      const errorOf = (res: Awaited<ReturnType<typeof get>>) => `${res.status} ${JSON.parse(res.text).error as string}`;

      it("a hit in a private cache for a puller; the other cache's copy does not count in an empty cache", async () => {
        await createCacheHttp(s.url, root, "bc-empty", true);
        const puller = bearer(await s.token({ priv: { pull: true } }));
        const hit = await get(`${s.url}/priv/${small.hash}.narinfo`, { headers: puller });
        expect(hit.status).toBe(200);
        expect(parseNarInfo(hit.text).storePath).toBe(small.path);
        expect(hit.headers.get("x-attic-cache-visibility")).toBeNull();
        // priv and pub hold it; bc-empty does not.
        expect(errorOf(await get(`${s.url}/bc-empty/${small.hash}.narinfo`))).toBe("404 NoSuchObject");
        expect(errorOf(await get(`${s.url}/priv/${"1".repeat(32)}.narinfo`, { headers: puller }))).toBe("404 NoSuchObject");
        // An invalid hash in a live cache is a missing object too; in a missing cache, a missing cache.
        expect(errorOf(await get(`${s.url}/pub/${"e".repeat(32)}.narinfo`))).toBe("404 NoSuchObject");
        const some = bearer(await s.token({ "*": { pull: true } }));
        expect(errorOf(await get(`${s.url}/bc-nosuch/${small.hash}.narinfo`, { headers: some }))).toBe("404 NoSuchCache");
      });

      it("a private cache tells a caller without pull nothing about its objects", async () => {
        const missing = "1".repeat(32);
        for (const headers of [{}, bearer(await s.token({ "other-*": ALL }))]) {
          const present = await get(`${s.url}/priv/${small.hash}.narinfo`, { headers });
          const absent = await get(`${s.url}/priv/${missing}.narinfo`, { headers });
          const noCache = await get(`${s.url}/bc-nosuch/${missing}.narinfo`, { headers });
          expect(errorOf(present)).toBe("401 Unauthorized");
          expect([absent.text, noCache.text]).toEqual([present.text, present.text]);
        }
        // With another bit on the cache it may know the cache exists, not whether it has the path.
        const pushOnly = bearer(await s.token({ priv: { push: true } }));
        const present = await get(`${s.url}/priv/${small.hash}.narinfo`, { headers: pushOnly });
        const absent = await get(`${s.url}/priv/${missing}.narinfo`, { headers: pushOnly });
        expect(errorOf(present)).toBe("403 AccessError");
        expect(absent.text).toBe(present.text);
      });
    });
  });

  describe("nar", () => {
    it("streams the stored NAR without Content-Length (S3: 307 to a presigned URL for one chunk); it decompresses to the original", async () => {
      for (const f of [small, large]) {
        const narinfo = parseNarInfo((await get(`${s.url}/pub/${f.hash}.narinfo`)).text);
        const { final: res } = await fetchNar(`${s.url}/pub/nar/${f.hash}.nar`, {}, await redirects(f));
        expect(res.status).toBe(200);
        if (!(await redirects(f))) {
          expect(res.headers.get("content-type")).toBe("application/x-nix-nar");
          expect(res.headers.get("content-length")).toBeNull();
          expect(res.headers.get("x-attic-cache-visibility")).toBe("public");
        }
        const stored = Buffer.from(await res.arrayBuffer());
        const plain = await collect(decoder.decompress(narinfo.compression as CompressionType, slices(stored, 65536)));
        expect(plain.equals(f.nar)).toBe(true);
      }
    });

    it("serves a private cache to a puller", async () => {
      const { first, final } = await fetchNar(`${s.url}/priv/nar/${small.hash}.nar`, { headers: bearer(await s.token({ priv: { pull: true } })) }, await redirects(small));
      expect(first.headers.get("x-attic-cache-visibility")).toBeNull();
      expect(final.status).toBe(200);
      expect((await final.arrayBuffer()).byteLength).toBeGreaterThan(0);
      // Without a token the private cache answers 401 before any redirect.
      expect((await fetch(`${s.url}/priv/nar/${small.hash}.nar`, { redirect: "manual" })).status).toBe(401);
    });

    it("HEAD answers 200 with the NAR MIME type and no body, and the server stays healthy", async () => {
      for (let i = 0; i < 20; i++) {
        const head = await get(`${s.url}/pub/nar/${large.hash}.nar`, { method: "HEAD" });
        expect(head.status).toBe(200);
        expect(head.headers.get("content-type")).toBe("application/x-nix-nar");
        expect(head.text).toBe("");
      }
      expect((await fetch(`${s.url}/pub/nar/${large.hash}.nar`)).status).toBe(200);
    });

    // Found with this matrix: the host then throws "client disconnected" as an uncaught
    // exception (Vitest reports it as an unhandled error of this file), on every combination.
    it("HEAD of a single-chunk NAR (S3: the same 307) has no body, and closing the connection afterwards raises nothing", async () => {
      const head = await fetch(`${s.url}/pub/nar/${small.hash}.nar`, { method: "HEAD", redirect: "manual" });
      expect(head.status).toBe((await redirects(small)) ? 307 : 200);
      expect(await head.text()).toBe("");
      // The client goes away, as a keep-alive connection eventually does.
      s.server.closeAllConnections();
      await new Promise((r) => setTimeout(r, 200));
    });
  });
}
