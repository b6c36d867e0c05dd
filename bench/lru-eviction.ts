/**
 * Least-recently-used eviction, as the narinfo and signature caches do it once per new entry:
 * `RecencyMap.takeOldest` (one kept iterator) against a fresh `for...of` over a plain Map per
 * eviction, the way both caches did it before. A Map keeps each deleted entry as a hole until
 * its table is rebuilt, and a fresh iterator steps over all of them first.
 *
 *   npx tsx --conditions=source bench/lru-eviction.ts
 *
 * Prints µs per insert-and-evict at a steady size of 1,000 to 50,000 entries (the narinfo
 * cache's default bound holds about 14,000 misses) and the ratio plain / RecencyMap.
 */
import { RecencyMap } from "../packages/core/src/util/recency-map.ts";
import { load } from "./lib/bench-util.ts";

const OPERATIONS = 200_000;

function plainMap(size: number): number {
  const map = new Map<string, number>();
  for (let i = 0; i < size; i++) map.set(`k${i}`, i);
  let next = size;
  const t0 = performance.now();
  for (let i = 0; i < OPERATIONS; i++) {
    map.set(`k${next++}`, i);
    for (const [key] of map) {
      map.delete(key);
      break;
    }
  }
  return ((performance.now() - t0) * 1000) / OPERATIONS;
}

function recencyMap(size: number): number {
  const map = new RecencyMap<string, number>();
  for (let i = 0; i < size; i++) map.set(`k${i}`, i);
  let next = size;
  const t0 = performance.now();
  for (let i = 0; i < OPERATIONS; i++) {
    map.set(`k${next++}`, i);
    map.takeOldest();
  }
  return ((performance.now() - t0) * 1000) / OPERATIONS;
}

for (const size of [1_000, 10_000, 50_000]) {
  const plain = Math.min(plainMap(size), plainMap(size));
  const kept = Math.min(recencyMap(size), recencyMap(size));
  console.log(
    `lru eviction at ${size} entries: RecencyMap ${kept.toFixed(2)} µs, plain Map with a fresh iterator ${plain.toFixed(2)} µs per insert+evict; ` +
      `ratio ${(plain / kept).toFixed(1)}x; ${load()}`,
  );
}
