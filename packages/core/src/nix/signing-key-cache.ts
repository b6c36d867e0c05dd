import { RecencyMap } from "../util/recency-map.ts";
import { parseSigningKey, type SigningKey } from "./signing-key.ts";

/**
 * Parsed signing keys by their stored text. Parsing one (an ed25519 PKCS#8 import in OpenSSL 3)
 * took about 650 µs, more than half of a narinfo request; the text is the cache's `keypair`
 * column, so a regenerated keypair is a new entry and the stale one ages out. Bounded so many
 * caches cannot grow it without limit (least recently used first out).
 */
export class SigningKeyCache {
  readonly #keys = new RecencyMap<string, SigningKey>();

  /** @param capacity - keys kept at most (one per cache in use). */
  constructor(private readonly capacity = 1024) {}

  get(keypair: string): SigningKey {
    const key = this.#keys.get(keypair) ?? parseSigningKey(keypair);
    this.#keys.set(keypair, key); // now the most recently used
    if (this.#keys.size > this.capacity) this.#keys.takeOldest();
    return key;
  }

  get size(): number {
    return this.#keys.size;
  }
}
