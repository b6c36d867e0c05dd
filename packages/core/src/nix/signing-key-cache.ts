import { parseSigningKey, type SigningKey } from "./signing-key.ts";

/**
 * Parsed signing keys by their stored text. Parsing one (an ed25519 PKCS#8 import in OpenSSL 3)
 * took about 650 µs, more than half of a narinfo request; the text is the cache's `keypair`
 * column, so a regenerated keypair is a new entry and the stale one ages out. Bounded so many
 * caches cannot grow it without limit (least recently used first out).
 */
export class SigningKeyCache {
  readonly #keys = new Map<string, SigningKey>();

  /** @param capacity - keys kept at most (one per cache in use). */
  constructor(private readonly capacity = 1024) {}

  get(keypair: string): SigningKey {
    let key = this.#keys.get(keypair);
    if (key !== undefined) {
      // Re-inserted to mark it most recently used (a Map iterates in insertion order).
      this.#keys.delete(keypair);
    } else {
      key = parseSigningKey(keypair);
    }
    this.#keys.set(keypair, key);
    if (this.#keys.size > this.capacity) this.#keys.delete(this.#keys.keys().next().value!);
    return key;
  }

  get size(): number {
    return this.#keys.size;
  }
}
