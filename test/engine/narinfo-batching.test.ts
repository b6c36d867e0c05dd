// Narinfo lookups that arrive together share one database statement per cache
// (`ObjectRepository.findCacheObjects` behind core's TurnBatcher): each request still gets its
// own answer, its own error and its own permission check.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { DATABASE, isAtticError, resolve, type Engine, type Principal } from "@attic-ts/core";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";
import { pseudoRandomBytes } from "../helpers/data.ts";
import { createCache, principal, ROOT, startTestEngine, TEST_DBS } from "../helpers/engine.ts";

const ANONYMOUS: Principal = { sub: null, grants: [] };

let paths: string[];
beforeAll(async () => {
  paths = await Promise.all([0, 1, 2].map((i) => addFiles(`narinfo-batch-${i}`, { "f.bin": pseudoRandomBytes(40 + i, 2000) })));
});

/** The narinfo body, or the error code the request fails with. */
async function answer(engine: Engine, who: Principal, cache: string, file: string): Promise<string> {
  try {
    return (await engine.binaryCache.narInfo(who, cache, file)).body;
  } catch (err) {
    if (isAtticError(err)) return err.code;
    throw err;
  }
}

describe.each(TEST_DBS)("narinfo lookups batched per cache (%s)", (db) => {
  it("answers concurrent requests as it answers them one by one, with one statement per cache", async () => {
    // The narinfo cache off: every request reaches the database.
    const t = await startTestEngine({}, { db, narInfoCache: { ttlMs: 0 } });
    try {
      await createCache(t.engine, "pub", true);
      await createCache(t.engine, "priv", false);
      const files: string[] = [];
      for (const [i, path] of paths.entries()) {
        const info = await uploadInfoFor("pub", path);
        files.push(`${info.store_path_hash}.narinfo`);
        if (i < 2) await t.engine.uploads.uploadPath(ROOT, info, dumpNar(path));
        if (i === 0) await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("priv", path), dumpNar(path));
      }
      const reader = principal("reader", { priv: { pull: true } });
      const requests: Array<[Principal, string, string]> = [
        ...files.map((f): [Principal, string, string] => [ANONYMOUS, "pub", f]), // two found, one absent
        [ANONYMOUS, "pub", files[0]!], // repeated
        [ANONYMOUS, "priv", files[0]!], // no pull
        [reader, "priv", files[0]!],
        [reader, "priv", files[1]!], // absent there
        [ANONYMOUS, "pub", "not-a-hash.narinfo"],
        [ANONYMOUS, "nothing-here", files[0]!],
      ];

      const database = resolve(t.engine.container, DATABASE);
      const lookups = vi.spyOn(database.objects, "findCacheObjects");
      const oneByOne: string[] = [];
      for (const [who, cache, file] of requests) oneByOne.push(await answer(t.engine, who, cache, file));
      const sequentialCalls = lookups.mock.calls.length;
      lookups.mockClear();
      const together = await Promise.all(requests.map(([who, cache, file]) => answer(t.engine, who, cache, file)));

      expect(together).toEqual(oneByOne);
      expect(oneByOne.slice(0, 2).every((body) => body.startsWith("StorePath: "))).toBe(true);
      expect(oneByOne.slice(2)).toEqual(["NoSuchObject", oneByOne[0], "AccessError", oneByOne[5], "NoSuchObject", "NoSuchObject", "NoSuchCache"]);
      expect(oneByOne[5]).toMatch(/^StorePath: /);
      // One by one: a statement per valid hash. Together: one per cache named.
      expect(sequentialCalls).toBe(8);
      expect(lookups.mock.calls.map(([cache, hashes]) => [cache, hashes.length]).sort()).toEqual([
        ["nothing-here", 1],
        ["priv", 2],
        ["pub", 3],
      ]);
    } finally {
      await t.close();
    }
  });
});
