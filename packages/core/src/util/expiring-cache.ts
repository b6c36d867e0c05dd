import { RecencyMap } from "./recency-map.ts";

/** One key's answer: shared while it loads, then served until it expires. */
interface Entry<V> {
  /** The load in flight, which requests arriving meanwhile share; null once it settled. */
  pending: Promise<V> | null;
  value: V | undefined;
  /** When the answer stops being served (the load's start plus the TTL), in `now()` units. */
  expiresAt: number;
  /** Characters counted against the bound (0 while loading). */
  chars: number;
  /** When it was last made the most recently used, in `now()` units. */
  touchedAt: number;
}

export interface ExpiringCacheOptions<V = unknown> {
  /** Milliseconds an answer is served after its load started; 0 turns the cache off. */
  ttlMs: number;
  /** Characters of keys and values held at most; the least recently used go first. */
  maxChars: number;
  /** Monotonic milliseconds (tests pass their own). Default `performance.now`. */
  now?: () => number;
  /**
   * Called with each loaded value that is to be kept (not invalidated while it loaded) and when
   * it expires; when it returns true the caller has kept the value elsewhere and this cache
   * forgets it (see `NarInfoCache`'s misses).
   */
  divert?: (key: string, value: V, expiresAt: number) => boolean;
}

/**
 * A loading cache with a time to live, bounded by size. Concurrent requests for a key share
 * one load. `invalidate` and `invalidateAll` drop entries, loads in flight included: such a
 * load still answers the requests that were waiting for it (they asked before the change),
 * but its result is not kept, so nothing read before a change is served after it.
 */
export class ExpiringCache<V> {
  readonly #entries = new RecencyMap<string, Entry<V>>();
  readonly #now: () => number;
  #chars = 0;

  constructor(private readonly options: ExpiringCacheOptions<V>) {
    if (!(options.ttlMs >= 0)) throw new RangeError(`ttlMs must be >= 0, got ${options.ttlMs}`);
    if (!(options.maxChars >= 0)) throw new RangeError(`maxChars must be >= 0, got ${options.maxChars}`);
    this.#now = options.now ?? (() => performance.now());
  }

  /** The answer for `key`: remembered, being loaded, or loaded now with `load`. */
  get(key: string, load: () => Promise<V>, sizeOf: (value: V) => number): Promise<V> {
    if (this.options.ttlMs === 0) return load();
    const now = this.#now();
    const entry = this.#entries.get(key);
    if (entry?.pending) return entry.pending;
    if (entry && entry.expiresAt > now) {
      // Made the most recently used at most once a quarter of the TTL: moving an entry to the
      // end of the map on every hit left a hole per hit and rebuilt the map's table every few
      // thousand hits, which was garbage at narinfo rates; an order at that granularity evicts
      // the same entries for all that matters within a TTL (BENCHMARKS.md, twentieth pass).
      if (entry.touchedAt + this.options.ttlMs / 4 <= now) {
        entry.touchedAt = now;
        this.#entries.set(key, entry);
      }
      return Promise.resolve(entry.value as V);
    }
    if (entry) this.#drop(key, entry);
    return this.#load(key, now, load, sizeOf);
  }

  /** Forgets `key`, including a load in flight. */
  invalidate(key: string): void {
    const entry = this.#entries.get(key);
    if (entry) this.#drop(key, entry);
  }

  /** Forgets every key for which `matches` holds. */
  invalidateWhere(matches: (key: string) => boolean): void {
    for (const [key, entry] of this.#entries.entries()) if (matches(key)) this.#drop(key, entry);
  }

  /** Forgets everything, loads in flight included. */
  invalidateAll(): void {
    this.#entries.clear();
    this.#chars = 0;
  }

  /** Keys held (loaded or loading). */
  get size(): number {
    return this.#entries.size;
  }

  /** Characters held by loaded entries. */
  get chars(): number {
    return this.#chars;
  }

  #load(key: string, startedAt: number, load: () => Promise<V>, sizeOf: (value: V) => number): Promise<V> {
    const entry: Entry<V> = { pending: null, value: undefined, expiresAt: startedAt + this.options.ttlMs, chars: 0, touchedAt: startedAt };
    const settle = (value: V): V => {
      // Dropped meanwhile (invalidated or evicted): answer the waiting requests, keep nothing.
      if (this.#entries.get(key) !== entry) return value;
      entry.pending = null;
      entry.value = value;
      if (this.options.divert?.(key, value, entry.expiresAt)) {
        this.#entries.delete(key);
        return value;
      }
      const chars = key.length + sizeOf(value);
      if (chars > this.options.maxChars) {
        this.#entries.delete(key);
        return value;
      }
      entry.chars = chars;
      this.#chars += chars;
      this.#evict();
      return value;
    };
    const fail = (err: unknown): never => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
      throw err;
    };
    entry.pending = load().then(settle, fail);
    this.#entries.set(key, entry);
    return entry.pending;
  }

  #drop(key: string, entry: Entry<V>): void {
    this.#entries.delete(key);
    this.#chars -= entry.chars;
  }

  #evict(): void {
    while (this.#chars > this.options.maxChars) {
      const oldest = this.#entries.takeOldest();
      if (oldest === undefined) return;
      this.#chars -= oldest[1].chars;
    }
  }
}
