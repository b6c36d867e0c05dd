import { RecencyMap } from "../util/recency-map.ts";

/**
 * Narinfo signatures by (keypair, fingerprint), least recently used first out. Ed25519 is
 * deterministic, so a remembered signature is the one signing again would give; a regenerated
 * keypair is a different key text, so its old entries are never hit again and age out. Nix
 * clients ask for the same narinfos over and over, and signing (about 70–100 µs) was the
 * largest single cost of a narinfo hit after the database lookup.
 *
 * Bounded by the characters it holds (keys and signatures), not by entries: a fingerprint lists
 * every reference of a path and can be kilobytes long.
 */
export class SignatureCache {
  readonly #entries = new RecencyMap<string, string>();
  #chars = 0;

  /** @param maxChars - characters of keys and signatures kept at most (default 4 Mi, about 8 MiB). */
  constructor(private readonly maxChars = 4 * 1024 * 1024) {}

  /** The signature of `fingerprint` under `keypair`, computed by `sign` when not remembered. */
  get(keypair: string, fingerprint: string, sign: () => string): string {
    const key = `${keypair}\n${fingerprint}`;
    const known = this.#entries.get(key);
    if (known !== undefined) {
      this.#entries.set(key, known); // now the most recently used
      return known;
    }
    const signature = sign();
    const size = key.length + signature.length;
    if (size > this.maxChars) return signature;
    this.#entries.set(key, signature);
    this.#chars += size;
    while (this.#chars > this.maxChars) {
      const [oldKey, oldSignature] = this.#entries.takeOldest()!; // #chars > 0: not empty
      this.#chars -= oldKey.length + oldSignature.length;
    }
    return signature;
  }

  /** Signatures remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /** Characters held (keys and signatures). */
  get chars(): number {
    return this.#chars;
  }
}
