import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { SigningError } from "../errors.ts";

/*
 * Nix's key and signature strings are all `{name}:{base64 payload}` (standard alphabet, padded):
 * secret key = 64 bytes (32-byte seed ‖ 32-byte public key, libsodium's layout), public key =
 * 32 bytes, signature = 64 bytes of RFC 8032 Ed25519. node:crypto does Ed25519 natively; keys
 * go in and out as JWK (`d` = seed, `x` = public key, base64url), which reproduces Nix's
 * signatures byte for byte.
 */

const SEED_BYTES = 32;
const PUBLIC_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** DER header of a PKCS#8 Ed25519 private key (RFC 8410); the 32-byte seed follows. */
const PKCS8_SEED_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** An Ed25519 public key with its Nix name (e.g. `cache.nixos.org-1`). */
export class PublicKey {
  readonly #key: KeyObject;
  readonly #raw: Uint8Array;

  /** `raw` is the 32-byte public key. Throws `SigningError` if it is not a usable key. */
  constructor(
    readonly name: string,
    raw: Uint8Array,
  ) {
    validateKeyName(name);
    if (raw.length !== PUBLIC_BYTES) throw payloadLengthError(PUBLIC_BYTES, raw.length, "public key");
    this.#raw = Uint8Array.from(raw);
    try {
      this.#key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64url(raw) }, format: "jwk" });
    } catch (cause) {
      throw new SigningError("Signing error: Invalid public key", { cause });
    }
  }

  /** The 32 raw key bytes (a copy). */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.#raw);
  }

  /** `name:base64(32 bytes)`, the `trusted-public-keys` format. */
  toString(): string {
    return `${this.name}:${Buffer.from(this.#raw).toString("base64")}`;
  }

  /**
   * Whether `signature` (`name:base64(64 bytes)`) is this key's signature of `message`. A
   * signature under another key name is simply not ours: false. Throws `SigningError` only for
   * a malformed signature string.
   */
  verify(message: Uint8Array | string, signature: string): boolean {
    const { name, payload } = decodeNamed(signature, SIGNATURE_BYTES, "signature");
    if (name !== this.name) return false;
    return verify(null, toBytes(message), this.#key, payload);
  }
}

/** An Ed25519 key pair with its Nix name; the cache's signing key (`cache.keypair`). */
export class SigningKey {
  readonly #privateKey: KeyObject;
  readonly #seed: Uint8Array;
  /** The public half, with the same name. */
  readonly publicKey: PublicKey;

  private constructor(
    readonly name: string,
    seed: Uint8Array,
    expectedPublic?: Uint8Array,
  ) {
    validateKeyName(name);
    this.#seed = Uint8Array.from(seed);
    // Derive the public key from the seed alone (a seed-only PKCS#8 import), then compare it
    // with the stored half: libsodium would sign with a wrong half without complaint, and
    // those signatures verify nowhere.
    const seedOnly = createPrivateKey({ key: Buffer.concat([PKCS8_SEED_PREFIX, seed]), format: "der", type: "pkcs8" });
    const derivedX = createPublicKey(seedOnly).export({ format: "jwk" }).x as string;
    const derived = Buffer.from(derivedX, "base64url");
    if (expectedPublic !== undefined && !derived.equals(expectedPublic)) {
      throw new SigningError("Signing error: The public half of the keypair does not match its secret seed");
    }
    this.#privateKey = createPrivateKey({
      key: { kty: "OKP", crv: "Ed25519", d: b64url(seed), x: derivedX },
      format: "jwk",
    });
    this.publicKey = new PublicKey(name, derived);
  }

  /** A fresh random key pair. Throws `SigningError` for an invalid name (empty or with `:`). */
  static generate(name: string): SigningKey {
    validateKeyName(name);
    const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
    return new SigningKey(name, Buffer.from(jwk.d as string, "base64url"));
  }

  /** Imports `name:base64(seed ‖ public)` (Nix's secret-key file format). */
  static parse(text: string): SigningKey {
    const { name, payload } = decodeNamed(text.trim(), SEED_BYTES + PUBLIC_BYTES, "keypair");
    return new SigningKey(name, payload.subarray(0, SEED_BYTES), payload.subarray(SEED_BYTES));
  }

  /** `name:base64(64 bytes)`, importable by `nix store sign --key-file` and Attic. */
  secretKeyString(): string {
    const pair = Buffer.concat([this.#seed, this.publicKey.bytes]);
    return `${this.name}:${pair.toString("base64")}`;
  }

  /** `name:base64(32 bytes)`, for `trusted-public-keys`. */
  publicKeyString(): string {
    return this.publicKey.toString();
  }

  /** Signs `message` (strings as UTF-8); returns `name:base64(64-byte signature)`. */
  sign(message: Uint8Array | string): string {
    const sig = sign(null, toBytes(message), this.#privateKey);
    return `${this.name}:${sig.toString("base64")}`;
  }

  /** Same as {@link PublicKey.verify} with this key's public half. */
  verify(message: Uint8Array | string, signature: string): boolean {
    return this.publicKey.verify(message, signature);
  }
}

/** Same as {@link SigningKey.generate}. */
export function generateSigningKey(name: string): SigningKey {
  return SigningKey.generate(name);
}

/** Same as {@link SigningKey.parse}. Throws `SigningError`. */
export function parseSigningKey(text: string): SigningKey {
  return SigningKey.parse(text);
}

/** Imports `name:base64(32 bytes)`. Throws `SigningError`. */
export function parsePublicKey(text: string): PublicKey {
  const { name, payload } = decodeNamed(text.trim(), PUBLIC_BYTES, "public key");
  return new PublicKey(name, payload);
}

/** Whether `signature` verifies `message` under `publicKey` (a key or its string form). */
export function verifySignature(publicKey: PublicKey | string, message: Uint8Array | string, signature: string): boolean {
  const key = typeof publicKey === "string" ? parsePublicKey(publicKey) : publicKey;
  return key.verify(message, signature);
}

/** A key name is valid when non-empty and free of `:` (Attic's `validate_name`). */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !name.includes(":");
}

function validateKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new SigningError(`Signing error: Invalid signing key name ${JSON.stringify(name)}.`);
  }
}

/** Splits `name:payload` and decodes the payload as strict, padded standard base64. */
function decodeNamed(text: string, expectedBytes: number, usage: string): { name: string; payload: Buffer } {
  const colon = text.indexOf(":");
  if (colon < 0) throw new SigningError("Signing error: The string lacks a colon separator.");
  const name = text.slice(0, colon);
  validateKeyName(name);
  const encoded = text.slice(colon + 1);
  if (encoded.length === 0) throw new SigningError("Signing error: The payload portion of the string is blank.");
  const payload = Buffer.from(encoded, "base64");
  // Node skips invalid characters silently; a canonical round trip proves the input was clean.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || payload.toString("base64") !== encoded) {
    throw new SigningError("Signing error: Base64 decode error: invalid base64 payload");
  }
  if (payload.length !== expectedBytes) throw payloadLengthError(expectedBytes, payload.length, usage);
  return { name, payload };
}

function payloadLengthError(expected: number, actual: number, usage: string): SigningError {
  return new SigningError(
    `Signing error: Invalid base64 payload length: Expected ${expected} (${usage}), got ${actual}`,
  );
}

function toBytes(message: Uint8Array | string): Uint8Array {
  return typeof message === "string" ? Buffer.from(message, "utf8") : message;
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
