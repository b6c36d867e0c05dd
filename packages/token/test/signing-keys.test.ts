import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isAtticError } from "@attic-ts/core";
import {
  decodeBase64Strict,
  hs256SecretFromBase64,
  rs256PrivateKeyFromBase64,
  rs256PublicKeyFromBase64,
  signingFromConfig,
} from "@attic-ts/token";
import { ATTIC_RS256_SECRET_BASE64, INVALID_UTF8_SECRET_BASE64, generateRsa } from "./fixtures.ts";

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

function configError(fn: () => unknown): Error & { code: string } {
  try {
    fn();
  } catch (err) {
    expect(isAtticError(err)).toBe(true);
    expect((err as { code: string }).code).toBe("ConfigError");
    return err as Error & { code: string };
  }
  throw new Error("expected a ConfigError");
}

describe("decodeBase64Strict", () => {
  it("accepts canonical padded base64 only", () => {
    expect(decodeBase64Strict("aGk=")?.toString()).toBe("hi");
    expect(decodeBase64Strict("")?.length).toBe(0);
    expect(decodeBase64Strict("aGk")).toBeNull(); // missing padding
    expect(decodeBase64Strict("aGl=")).toBeNull(); // non-zero trailing bits
    expect(decodeBase64Strict("aG*k")).toBeNull();
    expect(decodeBase64Strict("aG-_")).toBeNull(); // URL-safe alphabet
    expect(decodeBase64Strict("aG k=")).toBeNull();
    expect(decodeBase64Strict("aG k=", true)?.toString()).toBe("hi");
    expect(decodeBase64Strict("aGk=\n", true)?.toString()).toBe("hi");
  });
});

describe("HS256 secrets", () => {
  it("are the raw decoded bytes, even invalid UTF-8", () => {
    const secret = hs256SecretFromBase64(INVALID_UTF8_SECRET_BASE64);
    expect(Buffer.from(secret)).toEqual(Buffer.from("\xc3\x28 <- invalid utf8", "latin1"));
  });

  it("reject bad base64 naming the key, without echoing the value", () => {
    const err = configError(() => hs256SecretFromBase64("not base64 ***secretvalue***"));
    expect(err.message).toContain("jwt.signing.token-hs256-secret-base64");
    expect(err.message).not.toContain("secretvalue");
    expect(configError(() => hs256SecretFromBase64("")).message).toContain("empty");
  });
});

describe("RS256 keys", () => {
  it("read Attic's PKCS#1 private key", () => {
    const key = rs256PrivateKeyFromBase64(ATTIC_RS256_SECRET_BASE64);
    expect(key.type).toBe("private");
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it("read PKCS#8 private keys, and PKCS#1 and SPKI public keys", () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    expect(rs256PrivateKeyFromBase64(b64(pkcs8)).type).toBe("private");
    const spki = publicKey.export({ type: "spki", format: "pem" }) as string;
    const pkcs1 = publicKey.export({ type: "pkcs1", format: "pem" }) as string;
    expect(pkcs1).toContain("BEGIN RSA PUBLIC KEY");
    for (const pem of [spki, pkcs1]) {
      const key = rs256PublicKeyFromBase64(b64(pem));
      expect(key.type).toBe("public");
      expect(key.export({ type: "spki", format: "der" })).toEqual(publicKey.export({ type: "spki", format: "der" }));
    }
  });

  it("refuse a private key as the pubkey and the reverse, with a hint", () => {
    const { privatePem, publicPem } = generateRsa();
    expect(configError(() => rs256PublicKeyFromBase64(b64(privatePem))).message).toMatch(
      /token-rs256-pubkey-base64.*"RSA PRIVATE KEY".*token-rs256-secret-base64/,
    );
    expect(configError(() => rs256PrivateKeyFromBase64(b64(publicPem))).message).toMatch(
      /token-rs256-secret-base64.*"RSA PUBLIC KEY".*token-rs256-pubkey-base64/,
    );
  });

  it("refuse non-PEM, binary, non-RSA, short and corrupt keys", () => {
    expect(configError(() => rs256PrivateKeyFromBase64(b64("hello"))).message).toContain("no PEM block");
    expect(configError(() => rs256PrivateKeyFromBase64(b64(Buffer.from([0xff, 0xfe, 0x00])))).message).toContain("PEM text");
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecPem = ec.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    expect(configError(() => rs256PrivateKeyFromBase64(b64(ecPem))).message).toContain("expected an RSA key");
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const smallPem = small.privateKey.export({ type: "pkcs1", format: "pem" }) as string;
    expect(configError(() => rs256PrivateKeyFromBase64(b64(smallPem))).message).toContain("1024 bits");
    const corrupt = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    expect(configError(() => rs256PrivateKeyFromBase64(b64(corrupt))).message).toContain("cannot read the private key");
    const cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    expect(configError(() => rs256PublicKeyFromBase64(b64(cert))).message).toContain('"CERTIFICATE"');
  });

  it("accept base64 wrapped at 76 columns (plain `base64` output)", () => {
    const { privatePem } = generateRsa();
    const wrapped = b64(privatePem).replace(/(.{76})/g, "$1\n");
    expect(wrapped).toContain("\n");
    const key = rs256PrivateKeyFromBase64(wrapped);
    expect(createPublicKey(key).export({ type: "pkcs1", format: "pem" })).toBe(
      createPublicKey(privatePem).export({ type: "pkcs1", format: "pem" }),
    );
  });
});

describe("signingFromConfig", () => {
  it("picks the one configured key", () => {
    expect(signingFromConfig({ "token-hs256-secret-base64": INVALID_UTF8_SECRET_BASE64 }).kind).toBe("hs256");
    expect(signingFromConfig({ "token-rs256-secret-base64": ATTIC_RS256_SECRET_BASE64 }).kind).toBe("rs256");
    const pub = createPublicKey(Buffer.from(ATTIC_RS256_SECRET_BASE64, "base64").toString()).export({ type: "spki", format: "pem" });
    expect(signingFromConfig({ "token-rs256-pubkey-base64": b64(pub as string) }).kind).toBe("rs256-pubkey");
  });

  it("rejects zero or several keys", () => {
    configError(() => signingFromConfig({}));
    configError(() =>
      signingFromConfig({ "token-hs256-secret-base64": "aGk=", "token-rs256-secret-base64": ATTIC_RS256_SECRET_BASE64 }),
    );
  });
});
