import { describe, expect, it } from "vitest";
import { ExpiringCache } from "../../src/util/expiring-cache.ts";

/** A load whose answer the test releases by hand, counting calls. */
function manualLoads<V>() {
  const releases: Array<{ resolve: (v: V) => void; reject: (e: unknown) => void }> = [];
  return {
    calls: () => releases.length,
    load: () => new Promise<V>((resolve, reject) => releases.push({ resolve, reject })),
    release: (i: number, value: V) => releases[i]!.resolve(value),
    fail: (i: number, err: unknown) => releases[i]!.reject(err),
  };
}

function clock() {
  let ms = 1000;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

const length = (s: string) => s.length;

describe("ExpiringCache", () => {
  it("loads a key once, serves it until the TTL after the load started, then loads again", async () => {
    const time = clock();
    const cache = new ExpiringCache<string>({ ttlMs: 100, maxChars: 1000, now: time.now });
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get("k", load, length)).toBe("v1");
    time.advance(99);
    expect(await cache.get("k", load, length)).toBe("v1");
    time.advance(1);
    expect(await cache.get("k", load, length)).toBe("v2");
    expect(loads).toBe(2);
  });

  it("shares one load between requests that arrive while it runs", async () => {
    const cache = new ExpiringCache<string>({ ttlMs: 100, maxChars: 1000, now: clock().now });
    const loads = manualLoads<string>();
    const a = cache.get("k", loads.load, length);
    const b = cache.get("k", loads.load, length);
    expect(loads.calls()).toBe(1);
    loads.release(0, "x");
    expect(await a).toBe("x");
    expect(await b).toBe("x");
  });

  it("keeps nothing a load read before an invalidation, but still answers its waiters", async () => {
    const cache = new ExpiringCache<string>({ ttlMs: 100, maxChars: 1000, now: clock().now });
    const loads = manualLoads<string>();
    const before = cache.get("k", loads.load, length);
    cache.invalidate("k");
    // A request after the change does not join the old load.
    const after = cache.get("k", loads.load, length);
    expect(loads.calls()).toBe(2);
    loads.release(0, "old");
    loads.release(1, "new");
    expect(await before).toBe("old");
    expect(await after).toBe("new");
    expect(await cache.get("k", loads.load, length)).toBe("new");
    expect(loads.calls()).toBe(2);
  });

  it("invalidateAll and invalidateWhere drop loaded and loading keys alike", async () => {
    const cache = new ExpiringCache<string>({ ttlMs: 100, maxChars: 1000, now: clock().now });
    await cache.get("a/1", async () => "x", length);
    await cache.get("b/1", async () => "y", length);
    const loads = manualLoads<string>();
    const inFlight = cache.get("a/2", loads.load, length);
    cache.invalidateWhere((key) => key.startsWith("a/"));
    expect(cache.size).toBe(1);
    loads.release(0, "z");
    await inFlight;
    expect(cache.size).toBe(1);
    expect(cache.chars).toBe("b/1".length + 1);
    cache.invalidateAll();
    expect(cache.size).toBe(0);
    expect(cache.chars).toBe(0);
  });

  it("does not keep a failed load, and the next request tries again", async () => {
    const cache = new ExpiringCache<string>({ ttlMs: 100, maxChars: 1000, now: clock().now });
    await expect(cache.get("k", async () => Promise.reject(new Error("db down")), length)).rejects.toThrow("db down");
    expect(cache.size).toBe(0);
    expect(await cache.get("k", async () => "ok", length)).toBe("ok");
  });

  it("stays within its character bound, dropping the least recently used", async () => {
    const time = clock();
    const cache = new ExpiringCache<string>({ ttlMs: 100, maxChars: 30, now: time.now });
    const value = "0123456789"; // 10 characters, plus the key's 2
    await cache.get("k1", async () => value, length);
    await cache.get("k2", async () => value, length);
    time.advance(25);
    await cache.get("k1", async () => "never loaded", length); // k1 is now the most recent
    await cache.get("k3", async () => value, length);
    expect(cache.chars).toBeLessThanOrEqual(30);
    expect(cache.size).toBe(2);
    let reloaded = false;
    await cache.get("k2", async () => ((reloaded = true), value), length);
    expect(reloaded).toBe(true);
    // A value larger than the whole bound is answered but not kept.
    expect(await cache.get("big", async () => "x".repeat(40), length)).toHaveLength(40);
    expect(cache.chars).toBeLessThanOrEqual(30);
  });

  it("with a TTL of 0 loads every time and holds nothing", async () => {
    const cache = new ExpiringCache<string>({ ttlMs: 0, maxChars: 1000 });
    let loads = 0;
    await cache.get("k", async () => `v${++loads}`, length);
    await cache.get("k", async () => `v${++loads}`, length);
    expect(loads).toBe(2);
    expect(cache.size).toBe(0);
  });

  it("hands a loaded value to `divert`, with its expiry, and forgets it when diverted", async () => {
    const time = clock();
    const diverted: Array<[string, string, number]> = [];
    const cache = new ExpiringCache<string>({
      ttlMs: 100,
      maxChars: 1000,
      now: time.now,
      divert: (key, value, expiresAt) => (diverted.push([key, value, expiresAt]), value.startsWith("elsewhere")),
    });
    expect(await cache.get("a", async () => "elsewhere:a", length)).toBe("elsewhere:a");
    expect(await cache.get("b", async () => "here", length)).toBe("here");
    expect(diverted).toEqual([
      ["a", "elsewhere:a", 1100],
      ["b", "here", 1100],
    ]);
    expect(cache.size).toBe(1);
    let loads = 0;
    await cache.get("a", async () => ((loads++), "elsewhere:a"), length);
    await cache.get("b", async () => ((loads++), "here"), length);
    expect(loads).toBe(1);
    // A load invalidated while it ran is neither kept nor diverted.
    const loadsOf = manualLoads<string>();
    const pending = cache.get("c", loadsOf.load, length);
    cache.invalidate("c");
    loadsOf.release(0, "elsewhere:c");
    expect(await pending).toBe("elsewhere:c");
    expect(diverted.map(([key]) => key)).toEqual(["a", "b", "a"]);
  });

  it("makes a hit the most recently used at most once a quarter of the TTL", async () => {
    const time = clock();
    const cache = new ExpiringCache<string>({ ttlMs: 100, maxChars: 24, now: time.now });
    const value = "0123456789"; // 12 characters with the key: room for two
    await cache.get("k1", async () => value, length);
    await cache.get("k2", async () => value, length);
    // Within a quarter of the TTL of its load a hit does not reorder: k1 stays the oldest.
    time.advance(24);
    await cache.get("k1", async () => "never loaded", length);
    await cache.get("k3", async () => value, length);
    let reloaded = false;
    await cache.get("k1", async () => ((reloaded = true), value), length);
    expect(reloaded).toBe(true);
    // Now k3, then k1. A quarter of the TTL after k3's load, a hit moves k3 after k1, so k1
    // is the one a new entry pushes out.
    time.advance(25);
    await cache.get("k3", async () => "never loaded", length);
    await cache.get("k4", async () => value, length);
    let reloadedK3 = false;
    await cache.get("k3", async () => ((reloadedK3 = true), value), length);
    expect(reloadedK3).toBe(false);
    reloaded = false;
    await cache.get("k1", async () => ((reloaded = true), value), length);
    expect(reloaded).toBe(true);
  });
});
