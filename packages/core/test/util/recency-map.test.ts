import { describe, expect, it } from "vitest";
import { RecencyMap } from "../../src/util/recency-map.ts";

/** A deterministic pseudo-random sequence (xorshift32), so a failure replays. */
function random(seed: number): (below: number) => number {
  let x = seed;
  return (below) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % below;
  };
}

describe("RecencyMap", () => {
  it("takes entries least recently used first, a touched entry last", () => {
    const map = new RecencyMap<string, number>();
    map.set("a", 1);
    map.set("b", 2);
    map.set("c", 3);
    map.set("a", 10); // touched: now the newest
    expect(map.takeOldest()).toEqual(["b", 2]);
    map.set("d", 4);
    expect(map.takeOldest()).toEqual(["c", 3]);
    expect(map.takeOldest()).toEqual(["a", 10]);
    expect(map.takeOldest()).toEqual(["d", 4]);
    expect(map.takeOldest()).toBeUndefined();
    expect(map.size).toBe(0);
  });

  it("starts over after it ran empty, and after clear", () => {
    const map = new RecencyMap<string, number>();
    expect(map.takeOldest()).toBeUndefined();
    map.set("a", 1);
    expect(map.takeOldest()).toEqual(["a", 1]);
    expect(map.takeOldest()).toBeUndefined();
    map.set("b", 2);
    map.set("c", 3);
    expect(map.takeOldest()).toEqual(["b", 2]);
    map.clear();
    map.set("d", 4);
    expect(map.takeOldest()).toEqual(["d", 4]);
  });

  it("agrees with a plain list model over 60,000 random operations (past many table rebuilds)", () => {
    const next = random(0x9e3779b9);
    const map = new RecencyMap<number, number>();
    const model: Array<[number, number]> = []; // oldest first
    let maxSize = 0;
    for (let step = 0; step < 60_000; step++) {
      const op = next(10_000) / 100; // per cent
      const key = next(3000);
      if (op < 58) {
        const i = model.findIndex(([k]) => k === key);
        if (i >= 0) model.splice(i, 1);
        model.push([key, step]);
        map.set(key, step);
      } else if (op < 65) {
        const i = model.findIndex(([k]) => k === key);
        if (i >= 0) model.splice(i, 1);
        expect(map.delete(key)).toBe(i >= 0);
      } else if (op < 99.99) {
        expect(map.takeOldest()).toEqual(model.shift());
      } else {
        map.clear();
        model.length = 0;
      }
      expect(map.size).toBe(model.length);
      maxSize = Math.max(maxSize, model.length);
      expect(map.get(key)).toBe(model.find(([k]) => k === key)?.[1]);
    }
    expect([...map.entries()]).toEqual(model);
    expect(maxSize).toBeGreaterThan(1000); // the kept cursor, not only fresh ones, was exercised
  });
});
