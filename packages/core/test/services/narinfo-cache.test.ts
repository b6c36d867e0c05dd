import { describe, expect, it } from "vitest";
import type { CacheRow } from "../../src/database/model.ts";
import { NarInfoCache, type NarInfoAnswer } from "../../src/services/narinfo-cache.ts";

const HASH = (n: number) => n.toString().padStart(32, "0");
/** A stand-in cache row: the cache only hands it back. */
const row = (version: number) => ({ id: 1, name: "c", version }) as unknown as CacheRow;

function setup(ttlMs = 1000, maxChars?: number) {
  let time = 0;
  const cache = new NarInfoCache({ ttlMs, now: () => time, ...(maxChars !== undefined ? { maxChars } : {}) });
  let loads = 0;
  let answer: NarInfoAnswer | null = { cache: row(1), narInfo: null };
  const get = (hash: string, cacheName = "c") =>
    cache.get(cacheName, hash, async () => {
      loads++;
      return answer;
    });
  return {
    cache,
    get,
    loads: () => loads,
    answerWith: (next: NarInfoAnswer | null) => (answer = next),
    advance: (ms: number) => (time += ms),
  };
}

describe("NarInfoCache misses", () => {
  it("serves a miss from memory until the TTL after its load started", async () => {
    const t = setup();
    expect((await t.get(HASH(1)))?.narInfo).toBeNull();
    t.advance(999);
    expect((await t.get(HASH(1)))?.narInfo).toBeNull();
    expect(t.loads()).toBe(1);
    t.advance(1);
    await t.get(HASH(1));
    expect(t.loads()).toBe(2);
  });

  it("holds misses apart from the narinfo bound, and answers them with the newest cache row", async () => {
    // A bound too small for any answer: narinfos are not kept, misses are.
    const t = setup(1000, 10);
    for (let i = 0; i < 100; i++) await t.get(HASH(i));
    const newest = row(2);
    t.answerWith({ cache: newest, narInfo: null });
    await t.get(HASH(100));
    expect(t.loads()).toBe(101);
    for (let i = 0; i <= 100; i++) expect((await t.get(HASH(i)))?.cache).toBe(newest);
    expect(t.loads()).toBe(101);
    // A narinfo is not a miss: over the bound, it is loaded every time.
    t.answerWith({ cache: row(1), narInfo: "StorePath: /nix/store/x\n" });
    await t.get(HASH(200));
    await t.get(HASH(200));
    expect(t.loads()).toBe(103);
  });

  it("forgets a miss on invalidatePath, invalidateCache and invalidateAll", async () => {
    const t = setup();
    for (const hash of [HASH(1), HASH(2), HASH(3)]) await t.get(hash);
    await t.get(HASH(4), "d");
    expect(t.loads()).toBe(4);
    t.cache.invalidatePath("c", HASH(1));
    await t.get(HASH(1));
    await t.get(HASH(2));
    expect(t.loads()).toBe(5);
    t.cache.invalidateCache("c");
    await t.get(HASH(2));
    await t.get(HASH(4), "d");
    expect(t.loads()).toBe(6);
    t.cache.invalidateAll();
    await t.get(HASH(4), "d");
    await t.get(HASH(3));
    expect(t.loads()).toBe(8);
  });

  it("keeps no miss whose load was invalidated while it ran", async () => {
    const t = setup();
    let release!: (answer: NarInfoAnswer) => void;
    const pending = t.cache.get("c", HASH(1), () => new Promise((resolve) => (release = resolve)));
    t.cache.invalidatePath("c", HASH(1));
    release({ cache: row(1), narInfo: null });
    expect((await pending)?.narInfo).toBeNull();
    await t.get(HASH(1));
    expect(t.loads()).toBe(1);
  });

  it("keeps a missing cache (null) as before, and nothing with a TTL of 0", async () => {
    const t = setup();
    t.answerWith(null);
    expect(await t.get(HASH(1))).toBeNull();
    expect(await t.get(HASH(1))).toBeNull();
    expect(t.loads()).toBe(1);
    const off = setup(0);
    await off.get(HASH(1));
    await off.get(HASH(1));
    expect(off.loads()).toBe(2);
  });
});
