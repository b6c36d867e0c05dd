import type { CacheRow } from "../database/model.ts";
import { ExpiringCache } from "../util/expiring-cache.ts";

/**
 * What a narinfo request resolved to: the live cache row (its permission check runs on every
 * request) and the signed narinfo, or null when the cache has no such path.
 */
export interface NarInfoAnswer {
  cache: CacheRow;
  narInfo: string | null;
}

export interface NarInfoCacheOptions {
  /**
   * Milliseconds a looked-up narinfo (or its absence) is served from memory; 0 turns the cache
   * off. Changes made through this engine are seen at once; this bounds how long a change made
   * by another process sharing the database (another replica, a separate garbage collector) can
   * go unseen. Default 2000: Nix itself keeps narinfos for 30 days and misses for an hour.
   */
  ttlMs?: number;
  /** Characters of narinfos held at most (default 4 Mi, about 8 MiB with the cache rows). */
  maxChars?: number;
  /** Monotonic milliseconds, for tests. */
  now?: () => number;
}

export const DEFAULT_NARINFO_TTL_MS = 2000;
export const DEFAULT_NARINFO_CACHE_CHARS = 4 * 1024 * 1024;
/** What a cache row adds to an entry, roughly (its keypair, name and store dir). */
const CACHE_ROW_CHARS = 256;

/** Characters an answer holds, against the bound. */
function answerChars(answer: NarInfoAnswer | null): number {
  return CACHE_ROW_CHARS + (answer?.narInfo?.length ?? 0);
}

function keyOf(cacheName: string, storePathHash: string): string {
  // A cache name never holds "/", so the cache's own keys are exactly those with its prefix.
  return `${cacheName}/${storePathHash}`;
}

/**
 * Narinfo answers by (cache, store path hash). Nix clients and CI fleets ask for the same
 * narinfos over and over; answering from memory skips the database round trip, the row
 * mapping and the rendering, which were most of a narinfo request's cost (BENCHMARKS.md).
 * Every service that changes what a narinfo says invalidates here: an upload its path, cache
 * creation, configuration and destruction that cache, garbage collection everything.
 */
export class NarInfoCache {
  readonly #answers: ExpiringCache<NarInfoAnswer | null>;

  constructor(options: NarInfoCacheOptions = {}) {
    this.#answers = new ExpiringCache({
      ttlMs: options.ttlMs ?? DEFAULT_NARINFO_TTL_MS,
      maxChars: options.maxChars ?? DEFAULT_NARINFO_CACHE_CHARS,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** The answer for a path (null: no live cache of that name), loaded with `load` when not held. */
  get(cacheName: string, storePathHash: string, load: () => Promise<NarInfoAnswer | null>): Promise<NarInfoAnswer | null> {
    return this.#answers.get(keyOf(cacheName, storePathHash), load, answerChars);
  }

  /** After a write to one path of a cache (an upload). */
  invalidatePath(cacheName: string, storePathHash: string): void {
    this.#answers.invalidate(keyOf(cacheName, storePathHash));
  }

  /** After a change to a cache itself (created, configured, destroyed): all of its paths. */
  invalidateCache(cacheName: string): void {
    const prefix = keyOf(cacheName, "");
    this.#answers.invalidateWhere((key) => key.startsWith(prefix));
  }

  /** After a change that can touch any path of any cache (garbage collection). */
  invalidateAll(): void {
    this.#answers.invalidateAll();
  }
}
