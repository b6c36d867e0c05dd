import { describe, expect, it } from "vitest";
import { generateSigningKey, parsePublicKey, verifySignature } from "../../src/nix/signing-key.ts";
import { SigningKeyCache } from "../../src/nix/signing-key-cache.ts";

describe("SigningKeyCache", () => {
  it("returns the same parsed key for the same text, and a new one for new text", () => {
    const cache = new SigningKeyCache();
    const a = generateSigningKey("a");
    const b = generateSigningKey("b");
    const first = cache.get(a.secretKeyString());
    expect(cache.get(a.secretKeyString())).toBe(first);
    const other = cache.get(b.secretKeyString());
    expect(other).not.toBe(first);
    const sig = other.sign("message");
    expect(verifySignature(parsePublicKey(b.publicKeyString()), "message", sig)).toBe(true);
  });

  it("keeps at most its capacity, dropping the least recently used", () => {
    const cache = new SigningKeyCache(2);
    const [k1, k2, k3] = ["k1", "k2", "k3"].map((n) => generateSigningKey(n).secretKeyString());
    const first = cache.get(k1!);
    cache.get(k2!);
    cache.get(k1!); // k1 is now the most recent
    cache.get(k3!); // evicts k2
    expect(cache.size).toBe(2);
    expect(cache.get(k1!)).toBe(first);
  });
});
