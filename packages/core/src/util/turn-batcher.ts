/** Loads a group's keys with one call; the map must hold an entry for every key asked. */
export type BatchLoader<R> = (group: string, keys: readonly string[]) => Promise<ReadonlyMap<string, R>>;

interface Waiter<R> {
  resolve(value: R): void;
  reject(err: unknown): void;
}

/**
 * Gathers the keys asked for during one turn of the event loop and loads them per group with
 * one call each (at most `maxKeys` keys a call), instead of one call per key. A server reads
 * every request that has arrived in one turn before the check phase, where the batch goes out:
 * under load, requests that came in together share one database round trip; a lone request
 * waits for nothing but the rest of its turn.
 */
export class TurnBatcher<R> {
  /** Per group, per key, who waits for it; sent at the next `setImmediate`. */
  #pending = new Map<string, Map<string, Waiter<R>[]>>();
  #scheduled = false;

  constructor(
    private readonly loadBatch: BatchLoader<R>,
    private readonly maxKeys = 64,
  ) {}

  load(group: string, key: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let keys = this.#pending.get(group);
      if (!keys) {
        keys = new Map();
        this.#pending.set(group, keys);
      }
      const waiters = keys.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else keys.set(key, [{ resolve, reject }]);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const pending = this.#pending;
    this.#pending = new Map();
    this.#scheduled = false;
    for (const [group, keys] of pending) {
      const all = [...keys.keys()];
      for (let start = 0; start < all.length; start += this.maxKeys) {
        void this.#send(group, all.slice(start, start + this.maxKeys), keys);
      }
    }
  }

  async #send(group: string, keys: readonly string[], waiting: Map<string, Waiter<R>[]>): Promise<void> {
    let results: ReadonlyMap<string, R>;
    try {
      results = await this.loadBatch(group, keys);
    } catch (err) {
      for (const key of keys) for (const w of waiting.get(key)!) w.reject(err);
      return;
    }
    for (const key of keys) {
      const waiters = waiting.get(key)!;
      if (results.has(key)) for (const w of waiters) w.resolve(results.get(key) as R);
      else for (const w of waiters) w.reject(new Error(`batch loader returned no entry for ${JSON.stringify(key)}`));
    }
  }
}
