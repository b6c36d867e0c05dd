import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningError } from "../../src/errors.ts";
import { narInfoFingerprint } from "../../src/nix/fingerprint.ts";
import {
  generateSigningKey,
  parsePublicKey,
  parseSigningKey,
  PublicKey,
  verifySignature,
} from "../../src/nix/signing-key.ts";
import { buildTestPaths, nix, pathInfo, requireNixCli, tempStore, type TempStore } from "./nix-cli.ts";

// attic/src/signing/tests.rs
const ATTIC_TEST_KEY = "attic-test:x326WFy/JUl+MQnN1u9NPdWQPBbcVn2mwoIqSLS3DmQqZ8qT8rBSxxEnyhtl3jDouBqodlyfq6F+HsVhbTYPMA==";
const NIXOS_KEY = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";
const FOREIGN_SIG =
  "attic-test:lo9EfNIL4eGRuNh7DTbAAffWPpI2SlYC/8uP7JnhgmfRIUNGhSbFe8qEaKN0mFS02TuhPpXFPNtRkFcCp0hGAQ==";

function signingError(fn: () => unknown): SigningError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SigningError);
    expect((err as SigningError).code).toBe("SigningError");
    return err as SigningError;
  }
  throw new Error("expected a SigningError");
}

describe("SigningKey", () => {
  it("generates, exports and re-imports a key pair and its public key", () => {
    const key = generateSigningKey("attic-test");
    const secret = key.secretKeyString();
    expect(secret).toMatch(/^attic-test:[A-Za-z0-9+/]{86}==$/);
    expect(key.publicKeyString()).toMatch(/^attic-test:[A-Za-z0-9+/]{43}=$/);
    const again = parseSigningKey(secret);
    expect(again.name).toBe("attic-test");
    expect(again.secretKeyString()).toBe(secret);
    expect(again.publicKeyString()).toBe(key.publicKeyString());
    const pub = parsePublicKey(key.publicKeyString());
    expect(pub.name).toBe("attic-test");
    expect(pub.toString()).toBe(key.publicKeyString());
    expect(parsePublicKey(pub.toString()).bytes).toEqual(key.publicKey.bytes);
    // Two generated keys differ.
    expect(generateSigningKey("attic-test").secretKeyString()).not.toBe(secret);
  });

  it("round-trips Attic's test key unchanged, its public half being the last 32 bytes", () => {
    const key = parseSigningKey(ATTIC_TEST_KEY);
    expect(key.secretKeyString()).toBe(ATTIC_TEST_KEY);
    const payload = Buffer.from(ATTIC_TEST_KEY.split(":")[1] as string, "base64");
    expect(key.publicKeyString()).toBe(`attic-test:${payload.subarray(32).toString("base64")}`);
    expect(parseSigningKey(`${ATTIC_TEST_KEY}\n`).secretKeyString()).toBe(ATTIC_TEST_KEY);
  });

  it("round-trips the cache.nixos.org public key", () => {
    expect(parsePublicKey(NIXOS_KEY).toString()).toBe(NIXOS_KEY);
  });

  it("signs and verifies hello world; rejects a foreign signature", () => {
    const key = generateSigningKey("attic-test");
    const sig = key.sign("hello world");
    expect(sig).toMatch(/^attic-test:[A-Za-z0-9+/]{86}==$/);
    expect(key.verify("hello world", sig)).toBe(true);
    expect(key.publicKey.verify(Buffer.from("hello world"), sig)).toBe(true);
    expect(verifySignature(key.publicKeyString(), "hello world", sig)).toBe(true);
    // Deterministic (RFC 8032).
    expect(key.sign("hello world")).toBe(sig);
    expect(key.verify("hello world", FOREIGN_SIG)).toBe(false);
    expect(key.verify("hello worle", sig)).toBe(false);
    // Same bytes under another key name are not ours.
    expect(key.verify("hello world", sig.replace("attic-test:", "other:"))).toBe(false);
    // Another key's signature does not verify.
    expect(generateSigningKey("attic-test").verify("hello world", sig)).toBe(false);
  });

  it("rejects malformed keys and signatures with SigningError", () => {
    const payload = ATTIC_TEST_KEY.slice("attic-test:".length);
    signingError(() => generateSigningKey(""));
    signingError(() => generateSigningKey("a:b"));
    expect(signingError(() => parseSigningKey(payload)).message).toContain("colon");
    signingError(() => parseSigningKey(`:${payload}`));
    signingError(() => parseSigningKey("attic-test:"));
    signingError(() => parseSigningKey(`attic-test:${payload.slice(0, -4)}`)); // 61 bytes
    signingError(() => parseSigningKey(`attic-test:${payload.replace("/", "_")}`)); // not standard base64
    signingError(() => parseSigningKey(`attic-test:${payload.slice(0, -2)}`)); // unpadded
    expect(signingError(() => parseSigningKey(NIXOS_KEY)).message).toContain("Expected 64");
    signingError(() => parsePublicKey(ATTIC_TEST_KEY));
    signingError(() => new PublicKey("x", new Uint8Array(31)));
    const key = parseSigningKey(ATTIC_TEST_KEY);
    signingError(() => key.verify("m", "attic-test:AAAA"));
    signingError(() => key.verify("m", "no-colon"));
  });

  it("rejects a key pair whose public half does not match its seed", () => {
    const a = Buffer.from(ATTIC_TEST_KEY.split(":")[1] as string, "base64");
    const b = Buffer.from(generateSigningKey("x").secretKeyString().split(":")[1] as string, "base64");
    const mixed = Buffer.concat([a.subarray(0, 32), b.subarray(32)]);
    expect(signingError(() => parseSigningKey(`attic-test:${mixed.toString("base64")}`)).message).toContain("does not match");
  });
});

describe("interop with the real Nix CLI", () => {
  let dir: string;
  let store: TempStore;
  let paths: { dep: string; top: string };

  beforeAll(() => {
    requireNixCli();
    dir = mkdtempSync(join(tmpdir(), "attic-ts-signing-"));
    store = tempStore(dir);
    paths = buildTestPaths(store, dir, "signing");
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const fingerprintOf = (path: string): string => {
    const info = pathInfo(store, path);
    return narInfoFingerprint({
      storePath: info.path,
      narHash: info.narHash, // SRI on Nix 2.8
      narSize: info.narSize,
      references: info.references.map((r) => r.slice(r.lastIndexOf("/") + 1)),
    });
  };

  it("imports a key from nix-store --generate-binary-cache-key and signs exactly as nix store sign", () => {
    nix("nix-store", ["--generate-binary-cache-key", "cli-key-1", join(dir, "cli.sk"), join(dir, "cli.pk")]);
    const skText = readFileSync(join(dir, "cli.sk"), "utf8");
    const pkText = readFileSync(join(dir, "cli.pk"), "utf8");
    const key = parseSigningKey(skText);
    expect(key.secretKeyString()).toBe(skText.trim());
    expect(key.publicKeyString()).toBe(pkText.trim());

    nix("nix", ["store", "sign", "--store", store.uri, "--key-file", join(dir, "cli.sk"), paths.top]);
    const cliSigs = pathInfo(store, paths.top).signatures ?? [];
    const fingerprint = fingerprintOf(paths.top);
    expect(fingerprint).toMatch(new RegExp(`;${store.storeDir}/[0-9a-z]{32}-dep-signing$`));
    expect(cliSigs).toContain(key.sign(fingerprint));
    expect(verifySignature(pkText, fingerprint, cliSigs.find((s) => s.startsWith("cli-key-1:")) as string)).toBe(true);
  });

  it("gives Nix keys it reads and signatures it trusts", () => {
    const key = generateSigningKey("attic-ts-generated-1");
    writeFileSync(join(dir, "ours.sk"), key.secretKeyString());
    // Nix derives the same public key string from our secret key string.
    const derived = nix("nix", ["key", "convert-secret-to-public"], { input: key.secretKeyString() });
    expect(derived).toBe(key.publicKeyString());

    nix("nix", ["store", "sign", "--store", store.uri, "--key-file", join(dir, "ours.sk"), paths.dep]);
    const sigs = pathInfo(store, paths.dep).signatures ?? [];
    expect(sigs).toEqual([key.sign(fingerprintOf(paths.dep))]);

    // Nix's own verifier trusts the path under our public key, and not under another.
    const verify = (trusted: string): string =>
      nix("nix", ["store", "verify", "--store", store.uri, "--no-contents", "--sigs-needed", "1",
        "--option", "trusted-public-keys", trusted, paths.dep]);
    expect(() => verify(key.publicKeyString())).not.toThrow();
    expect(() => verify(generateSigningKey("attic-ts-generated-1").publicKeyString())).toThrow(/untrusted/);
  });
});
