import { describe, expect, it } from "vitest";
import { SignatureCache } from "../../src/nix/signature-cache.ts";
import { generateSigningKey, parsePublicKey, verifySignature } from "../../src/nix/signing-key.ts";

describe("SignatureCache", () => {
  it("signs once per (keypair, fingerprint) and returns the very signature signing again gives", () => {
    const cache = new SignatureCache();
    const key = generateSigningKey("k");
    const other = generateSigningKey("o");
    let calls = 0;
    const sign = (k: typeof key, fp: string) => () => {
      calls++;
      return k.sign(fp);
    };
    const first = cache.get(key.secretKeyString(), "1;/nix/store/a;sha256:x;1;", sign(key, "1;/nix/store/a;sha256:x;1;"));
    expect(cache.get(key.secretKeyString(), "1;/nix/store/a;sha256:x;1;", sign(key, "1;/nix/store/a;sha256:x;1;"))).toBe(first);
    expect(calls).toBe(1);
    // Deterministic: a fresh signature is the remembered one.
    expect(key.sign("1;/nix/store/a;sha256:x;1;")).toBe(first);
    expect(verifySignature(parsePublicKey(key.publicKeyString()), "1;/nix/store/a;sha256:x;1;", first)).toBe(true);
    // Another fingerprint or another keypair is another entry.
    const b = cache.get(key.secretKeyString(), "1;/nix/store/b;sha256:x;1;", sign(key, "1;/nix/store/b;sha256:x;1;"));
    const c = cache.get(other.secretKeyString(), "1;/nix/store/a;sha256:x;1;", sign(other, "1;/nix/store/a;sha256:x;1;"));
    expect(new Set([first, b, c]).size).toBe(3);
    expect(calls).toBe(3);
    expect(cache.size).toBe(3);
  });

  it("stays within its character bound, dropping the least recently used", () => {
    const cache = new SignatureCache(100);
    const entry = (fp: string) => cache.get("kp", fp, () => `sig-${fp}`);
    entry("a".repeat(30)); // 33 + 35 = 68 chars
    entry("b".repeat(10)); // 13 + 14 = 27 chars: 95 in all
    entry("a".repeat(30)); // a is now the most recent
    entry("c".repeat(5)); // 8 + 9 = 17: over 100, so b (least recent) goes
    expect(cache.chars).toBeLessThanOrEqual(100);
    expect(cache.size).toBe(2);
    let signed = 0;
    cache.get("kp", "a".repeat(30), () => `x${++signed}`);
    expect(signed).toBe(0);
    cache.get("kp", "b".repeat(10), () => `sig-${"b".repeat(10)}${++signed}`);
    expect(signed).toBe(1);
    // An entry larger than the whole bound is signed but not kept.
    expect(cache.get("kp", "z".repeat(200), () => "big")).toBe("big");
    expect(cache.chars).toBeLessThanOrEqual(100);
  });
});
