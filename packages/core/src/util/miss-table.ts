/**
 * Keys known to be absent, each until it expires, held in typed arrays: a set that allocates
 * nothing per key. Why: a cache that answers a flood of distinct misses from memory (narinfo
 * requests for paths a binary cache does not hold) kept an object, a key string and a map node
 * for each. They lived for the TTL, so every one was promoted to V8's old generation and died
 * there: cold narinfo misses ran a full collection every 1.5 s, and their p99 latency went from
 * 2.9 ms without cached misses to 8.3 ms with them (BENCHMARKS.md, twentieth pass).
 *
 * Keys are fixed-length ASCII strings (store path hashes), each under an owner (a number the
 * caller gives, 1 or more; a cache). The table is set-associative: a key may sit only in the
 * `WAYS` slots of its bucket, and adding to a full bucket replaces the entry that expires
 * first, so at most `capacity` keys are held and an old miss may be forgotten early (it is
 * then looked up again, which is only slower).
 */

/** Slots per bucket. */
const WAYS = 4;

export class MissTable {
  readonly #keyLength: number;
  readonly #bucketMask: number;
  /** Each slot's key, `keyLength` bytes a slot. */
  readonly #keys: Uint8Array;
  /** Each slot's owner; 0: empty. */
  readonly #owners: Int32Array;
  /** When each slot's entry stops counting, in the caller's clock. */
  readonly #expiries: Float64Array;

  /**
   * @param keyLength - characters of every key (each a char code below 256).
   * @param capacity - keys held at most; rounded up to a power of two, at least `WAYS`.
   */
  constructor(keyLength: number, capacity: number) {
    const slots = Math.max(WAYS, 2 ** Math.ceil(Math.log2(Math.max(1, capacity))));
    this.#keyLength = keyLength;
    this.#bucketMask = slots / WAYS - 1;
    this.#keys = new Uint8Array(slots * keyLength);
    this.#owners = new Int32Array(slots);
    this.#expiries = new Float64Array(slots);
  }

  /** Slots in all. */
  get capacity(): number {
    return this.#owners.length;
  }

  /** Whether `key` is held for `owner` and has not expired at `now`. */
  has(owner: number, key: string, now: number): boolean {
    const slot = this.#find(owner, key);
    return slot >= 0 && this.#expiries[slot]! > now;
  }

  /** Holds `key` for `owner` until `expiresAt` (replacing its earlier entry). */
  add(owner: number, key: string, expiresAt: number): void {
    if (owner < 1 || key.length !== this.#keyLength) return;
    let slot = this.#find(owner, key);
    if (slot < 0) {
      // The bucket's empty slot, else the one that expires first (expired ones included).
      const first = this.#bucketOf(key) * WAYS;
      slot = first;
      for (let s = first; s < first + WAYS; s++) {
        if (this.#owners[s] === 0) {
          slot = s;
          break;
        }
        if (this.#expiries[s]! < this.#expiries[slot]!) slot = s;
      }
      const at = slot * this.#keyLength;
      for (let i = 0; i < this.#keyLength; i++) this.#keys[at + i] = key.charCodeAt(i);
      this.#owners[slot] = owner;
    }
    this.#expiries[slot] = expiresAt;
  }

  /** Forgets `key` for `owner`. */
  delete(owner: number, key: string): void {
    const slot = this.#find(owner, key);
    if (slot >= 0) this.#owners[slot] = 0;
  }

  /** Forgets every key of `owner`. */
  deleteOwner(owner: number): void {
    const owners = this.#owners;
    for (let s = 0; s < owners.length; s++) if (owners[s] === owner) owners[s] = 0;
  }

  /** Forgets everything. */
  clear(): void {
    this.#owners.fill(0);
  }

  /** The slot holding `key` for `owner`, or -1. */
  #find(owner: number, key: string): number {
    if (key.length !== this.#keyLength) return -1;
    const first = this.#bucketOf(key) * WAYS;
    const keys = this.#keys;
    const length = this.#keyLength;
    for (let s = first; s < first + WAYS; s++) {
      if (this.#owners[s] !== owner) continue;
      const at = s * length;
      let i = 0;
      while (i < length && keys[at + i] === key.charCodeAt(i)) i++;
      if (i === length) return s;
    }
    return -1;
  }

  /** A bucket from all of the key's characters (FNV-1a, in 32-bit arithmetic). */
  #bucketOf(key: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    return (hash >>> 0) & this.#bucketMask;
  }
}
