// The narinfo cache (core `services/narinfo-cache.ts`): a change made through the engine is
// served at once; a change made by another engine on the same database (another replica)
// within the TTL; and the permission check runs on every request, cached or not.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createEngine,
  isAtticError,
  parseNarInfo,
  parsePublicKey,
  verifySignature,
  narInfoFingerprint,
  type Engine,
  type Principal,
} from "@attic-ts/core";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";
import { pseudoRandomBytes } from "../helpers/data.ts";
import { builtinPlugins, createCache, ROOT, startTestEngine, TEST_DBS, type TestEngine } from "../helpers/engine.ts";

const ANONYMOUS: Principal = { sub: null, grants: [] };

let first: string;
let second: string;
beforeAll(async () => {
  first = await addFiles("narinfo-cache-a", { "a.bin": pseudoRandomBytes(31, 3000) });
  second = await addFiles("narinfo-cache-b", { "b.bin": pseudoRandomBytes(32, 3000) });
});

/** The error code a narinfo request fails with, or "ok". */
async function outcome(engine: Engine, who: Principal, cache: string, path: string): Promise<string> {
  const { store_path_hash } = await uploadInfoFor(cache, path);
  try {
    await engine.binaryCache.narInfo(who, cache, `${store_path_hash}.narinfo`);
    return "ok";
  } catch (err) {
    if (isAtticError(err)) return err.code;
    throw err;
  }
}

async function narInfoText(engine: Engine, cache: string, path: string): Promise<string> {
  const { store_path_hash } = await uploadInfoFor(cache, path);
  return (await engine.binaryCache.narInfo(ROOT, cache, `${store_path_hash}.narinfo`)).body;
}

async function upload(engine: Engine, cache: string, path: string): Promise<void> {
  await engine.uploads.uploadPath(ROOT, await uploadInfoFor(cache, path), dumpNar(path));
}

describe.each(TEST_DBS)("narinfo cache (%s)", (db) => {
  let t: TestEngine;
  let time = 0;
  let other: Engine | undefined;
  afterEach(async () => {
    await other?.stop();
    other = undefined;
    await t?.close();
  });

  async function start(): Promise<TestEngine> {
    time = 0;
    // A TTL of 1 s on a clock the test moves: a stale answer can be shown without sleeping.
    t = await startTestEngine({}, { db, narInfoCache: { ttlMs: 1000, now: () => time } });
    await createCache(t.engine, "c", true);
    return t;
  }

  it("serves an upload at once after a remembered miss, and a re-upload's new narinfo", async () => {
    await start();
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("NoSuchObject");
    await upload(t.engine, "c", first);
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("ok");
    // Another path is still a miss; the first one now comes from memory.
    expect(await outcome(t.engine, ROOT, "c", second)).toBe("NoSuchObject");
    const before = await narInfoText(t.engine, "c", first);
    expect(await narInfoText(t.engine, "c", first)).toBe(before);
  });

  it("signs with a regenerated keypair, and applies a visibility change, at once", async () => {
    await start();
    await upload(t.engine, "c", first);
    const oldText = await narInfoText(t.engine, "c", first);
    expect(await outcome(t.engine, ANONYMOUS, "c", first)).toBe("ok");

    await t.engine.caches.configure(ROOT, "c", { keypair: "Generate", is_public: false });
    const newText = await narInfoText(t.engine, "c", first);
    expect(newText).not.toBe(oldText);
    const config = await t.engine.caches.get(ROOT, "c", { apiEndpoint: "http://x/", substituterEndpoint: "http://x/" });
    const narinfo = parseNarInfo(newText);
    expect(verifySignature(parsePublicKey(config.public_key), narInfoFingerprint(narinfo), narinfo.sigs[0]!)).toBe(true);
    // Private now: a stranger is refused.
    expect(await outcome(t.engine, ANONYMOUS, "c", first)).toBe("AccessError");
  });

  it("forgets a destroyed cache and a recreated one at once", async () => {
    await start();
    await upload(t.engine, "c", first);
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("ok");
    await t.engine.caches.destroy(ROOT, "c");
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("NoSuchCache");
    await createCache(t.engine, "c", true);
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("NoSuchObject");
  });

  it("drops what garbage collection expired at once", async () => {
    await start();
    await upload(t.engine, "c", first);
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("ok");
    await t.engine.caches.configure(ROOT, "c", { retention_period: { Period: 1 } });
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("ok");
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await t.engine.gc.runOnce()).expiredObjects).toBe(1);
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("NoSuchObject");
  });

  it("sees another engine's change on the same database once the TTL has passed", async () => {
    await start();
    other = await createEngine({ config: t.config, plugins: builtinPlugins, configSource: "second engine", migrate: false });
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("NoSuchObject");
    await upload(other, "c", first);
    // Within the TTL the first engine still answers what it looked up: the bound on staleness.
    time += 999;
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("NoSuchObject");
    time += 1;
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("ok");
    await other.caches.destroy(ROOT, "c");
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("ok");
    time += 1000;
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("NoSuchCache");
  });

  it("checks the permission on every request, whoever asked first", async () => {
    await start();
    await t.engine.caches.configure(ROOT, "c", { is_public: false });
    await upload(t.engine, "c", first);
    expect(await outcome(t.engine, ROOT, "c", first)).toBe("ok");
    // Remembered for ROOT; a stranger is still refused, and so is a token without pull.
    expect(await outcome(t.engine, ANONYMOUS, "c", first)).toBe("AccessError");
    const pushOnly: Principal = { sub: "ci", grants: [["c", { pull: false, push: true, delete: false, createCache: false, configureCache: false, configureCacheRetention: false, destroyCache: false }]] };
    expect(await outcome(t.engine, pushOnly, "c", first)).toBe("AccessError");
    // The same for a remembered miss (misses are held apart from narinfos).
    expect(await outcome(t.engine, ROOT, "c", second)).toBe("NoSuchObject");
    expect(await outcome(t.engine, ANONYMOUS, "c", second)).toBe("AccessError");
    expect(await outcome(t.engine, pushOnly, "c", second)).toBe("AccessError");
    // And a visibility change applies to remembered misses at once.
    await t.engine.caches.configure(ROOT, "c", { is_public: true });
    expect(await outcome(t.engine, ANONYMOUS, "c", second)).toBe("NoSuchObject");
  });

  it("narInfoOrMiss answers null exactly where narInfo rejects with NoSuchObject, and fails as it does otherwise", async () => {
    await start();
    await createCache(t.engine, "p", false);
    await upload(t.engine, "c", first);
    await upload(t.engine, "p", first);
    const held = (await uploadInfoFor("c", first)).store_path_hash;
    const absent = (await uploadInfoFor("c", second)).store_path_hash;
    const reader: Principal = { sub: "reader", grants: [["p", { pull: true, push: false, delete: false, createCache: false, configureCache: false, configureCacheRetention: false, destroyCache: false }]] };
    const cases: Array<[Principal, string, string]> = [
      [ANONYMOUS, "c", `${held}.narinfo`],
      [ANONYMOUS, "c", `${absent}.narinfo`],
      [ANONYMOUS, "c", "not-a-hash.narinfo"],
      [ANONYMOUS, "c", `${held}.ls`],
      [ANONYMOUS, "p", `${held}.narinfo`],
      [ANONYMOUS, "p", `${absent}.narinfo`],
      [reader, "p", `${held}.narinfo`],
      [reader, "p", `${absent}.narinfo`],
      [ANONYMOUS, "nosuch", `${held}.narinfo`],
      [ANONYMOUS, "bad name", `${held}.narinfo`],
    ];
    /** The answer or the error as the host maps it: its code and whether discovery is allowed. */
    const settle = (p: Promise<unknown>) =>
      p.then(
        (value) => ({ value }),
        (err: unknown) => ({ error: isAtticError(err) ? `${err.code}/${err.discoveryPermission}` : String(err) }),
      );
    const seen = new Set<string>();
    for (const [who, cache, file] of cases) {
      const thrown = await settle(t.engine.binaryCache.narInfo(who, cache, file));
      const quiet = await settle(t.engine.binaryCache.narInfoOrMiss(who, cache, file));
      if ("error" in thrown && thrown.error === "NoSuchObject/true") expect(quiet).toEqual({ value: null });
      else expect(quiet).toEqual(thrown);
      seen.add("error" in thrown ? thrown.error.split("/")[0]! : "ok");
    }
    // The cases reach every kind of answer.
    expect([...seen].sort()).toEqual(["AccessError", "InvalidCacheName", "NoSuchCache", "NoSuchObject", "NotFound", "ok"]);
  });
});
