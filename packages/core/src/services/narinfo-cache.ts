import type { CacheRow } from "../database/model.ts";
import { ExpiringCache } from "../util/expiring-cache.ts";
import { MissTable } from "../util/miss-table.ts";

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
  /**
   * Characters of narinfos held at most (default 4 Mi, about 8 MiB with the cache rows). Misses
   * are held apart, up to `NARINFO_MISSES_HELD`.
   */
  maxChars?: number;
  /** Monotonic milliseconds, for tests. */
  now?: () => number;
}

export const DEFAULT_NARINFO_TTL_MS = 2000;
export const DEFAULT_NARINFO_CACHE_CHARS = 4 * 1024 * 1024;
/**
 * Misses held at most, apart from `maxChars` (45 bytes each, 1.4 MiB in all, made on the first
 * miss): a TTL's worth of distinct misses at 16,000 requests a second.
 */
export const NARINFO_MISSES_HELD = 32 * 1024;
/** Characters of a store path hash, the miss table's keys. */
const HASH_CHARS = 32;
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
  readonly #now: () => number;
  /**
   * Paths a live cache does not hold, kept apart from `#answers` in a table that allocates
   * nothing per path (`miss-table.ts`): a flood of distinct misses otherwise filled V8's old
   * generation with dead entries.
   */
  #misses: MissTable | undefined;
  /** Per cache with misses held: its owner number in `#misses`, and the answer they share. */
  readonly #missOwners = new Map<string, { owner: number; answer: NarInfoAnswer }>();
  #nextOwner = 1;

  constructor(options: NarInfoCacheOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#answers = new ExpiringCache<NarInfoAnswer | null>({
      ttlMs: options.ttlMs ?? DEFAULT_NARINFO_TTL_MS,
      maxChars: options.maxChars ?? DEFAULT_NARINFO_CACHE_CHARS,
      now: this.#now,
      divert: this.#keepMiss,
    });
  }

  /** The answer for a path (null: no live cache of that name), loaded with `load` when not held. */
  get(cacheName: string, storePathHash: string, load: () => Promise<NarInfoAnswer | null>): Promise<NarInfoAnswer | null> {
    const misses = this.#missOwners.get(cacheName);
    if (misses !== undefined && this.#misses!.has(misses.owner, storePathHash, this.#now())) return Promise.resolve(misses.answer);
    return this.#answers.get(keyOf(cacheName, storePathHash), load, answerChars);
  }

  /** After a write to one path of a cache (an upload). */
  invalidatePath(cacheName: string, storePathHash: string): void {
    this.#answers.invalidate(keyOf(cacheName, storePathHash));
    const misses = this.#missOwners.get(cacheName);
    if (misses !== undefined) this.#misses!.delete(misses.owner, storePathHash);
  }

  /** After a change to a cache itself (created, configured, destroyed): all of its paths. */
  invalidateCache(cacheName: string): void {
    const prefix = keyOf(cacheName, "");
    this.#answers.invalidateWhere((key) => key.startsWith(prefix));
    const misses = this.#missOwners.get(cacheName);
    if (misses !== undefined) {
      this.#misses!.deleteOwner(misses.owner);
      this.#missOwners.delete(cacheName);
    }
  }

  /** After a change that can touch any path of any cache (garbage collection). */
  invalidateAll(): void {
    this.#answers.invalidateAll();
    this.#misses?.clear();
    this.#missOwners.clear();
  }

  /**
   * A loaded miss of a live cache goes to `#misses` instead of `#answers`. Misses of one cache
   * share one answer, the newest loaded: its cache row is the freshest this engine has seen.
   */
  readonly #keepMiss = (key: string, answer: NarInfoAnswer | null, expiresAt: number): boolean => {
    if (answer === null || answer.narInfo !== null) return false;
    const slash = key.lastIndexOf("/");
    const storePathHash = key.slice(slash + 1);
    if (storePathHash.length !== HASH_CHARS) return false;
    const cacheName = key.slice(0, slash);
    let misses = this.#missOwners.get(cacheName);
    if (misses === undefined) {
      // Owner numbers are never reused while their entries may remain; at the Int32 limit
      // (never in practice) every miss is forgotten and numbering starts over.
      if (this.#nextOwner >= 0x7fffffff) {
        this.#misses?.clear();
        this.#missOwners.clear();
        this.#nextOwner = 1;
      }
      misses = { owner: this.#nextOwner++, answer };
      this.#missOwners.set(cacheName, misses);
    } else {
      misses.answer = answer;
    }
    (this.#misses ??= new MissTable(HASH_CHARS, NARINFO_MISSES_HELD)).add(misses.owner, storePathHash, expiresAt);
    return true;
  };
}
