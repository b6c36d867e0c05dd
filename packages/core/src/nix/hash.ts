import { createHash, timingSafeEqual } from "node:crypto";
import { NixFormatError } from "../errors.ts";
import { decodeNixBase32, encodeNixBase32, nixBase32Length } from "./nix-base32.ts";

/** Which of Attic's `hash::Error` variants a {@link HashFormatError} is. */
export type HashErrorReason =
  | "NoColonSeparator"
  | "UnsupportedHashAlgorithm"
  | "InvalidHashStringLength"
  | "InvalidBase16Hash"
  | "InvalidBase32Hash"
  | "InvalidSriHash";

/** A malformed hash string: code `HashError`, message worded as Attic's `Hashing error: ...`. */
export class HashFormatError extends NixFormatError {
  constructor(
    readonly reason: HashErrorReason,
    detail: string,
  ) {
    super("HashError", `Hashing error: ${detail}`);
  }
}

const SHA256_BYTES = 32;
const BASE16_LEN = SHA256_BYTES * 2;
const BASE32_LEN = nixBase32Length(SHA256_BYTES);

/**
 * A SHA-256 digest (32 bytes). Attic supports no other algorithm. Immutable: `bytes` returns a
 * copy.
 */
export class Sha256Hash {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Wraps an existing 32-byte digest (copied). Throws `RangeError` on another length. */
  static fromBytes(bytes: Uint8Array): Sha256Hash {
    if (bytes.length !== SHA256_BYTES) throw new RangeError(`SHA-256 digest must be 32 bytes, got ${bytes.length}`);
    return new Sha256Hash(Uint8Array.from(bytes));
  }

  /** Hashes a whole in-memory value (strings as UTF-8). For streams use `HashingStream`. */
  static of(data: Uint8Array | string): Sha256Hash {
    return new Sha256Hash(new Uint8Array(createHash("sha256").update(data).digest()));
  }

  /** The 32 digest bytes (a fresh copy). */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** 64 lowercase hex characters, no prefix. */
  toHex(): string {
    return Buffer.from(this.#bytes).toString("hex");
  }

  /** 52 nix-base32 characters, no prefix. */
  toNixBase32(): string {
    return encodeNixBase32(this.#bytes);
  }

  /** `sha256:<64 hex>`: the database's canonical form and the narinfo `NarHash` Attic emits. */
  toTypedBase16(): string {
    return `sha256:${this.toHex()}`;
  }

  /** `sha256:<52 nix-base32>`: the form inside narinfo signature fingerprints. */
  toTypedBase32(): string {
    return `sha256:${this.toNixBase32()}`;
  }

  /** `sha256-<base64>` (Subresource Integrity), as `nix path-info --json` prints on Nix 2.8. */
  toSri(): string {
    return `sha256-${Buffer.from(this.#bytes).toString("base64")}`;
  }

  equals(other: Sha256Hash): boolean {
    return timingSafeEqual(this.#bytes, other.#bytes);
  }

  /** Same as {@link toTypedBase16}. */
  toString(): string {
    return this.toTypedBase16();
  }

  toJSON(): string {
    return this.toTypedBase16();
  }
}

/** `sha256:<64 hex>` of `hash` (the database's canonical form); see {@link Sha256Hash.toTypedBase16}. */
export function toTypedBase16(hash: Sha256Hash): string {
  return hash.toTypedBase16();
}

/** `sha256:<52 nix-base32>` of `hash` (the fingerprint form). */
export function toTypedBase32(hash: Sha256Hash): string {
  return hash.toTypedBase32();
}

/** `sha256-<base64>` of `hash` (SRI). */
export function toSri(hash: Sha256Hash): string {
  return hash.toSri();
}

/**
 * Parses `sha256:<64 hex>`, `sha256:<52 nix-base32>` (Attic's `Hash::from_typed`) or the SRI
 * form `sha256-<base64>`. Hex is accepted in either case, as Rust's `hex` crate does.
 * Throws {@link HashFormatError}.
 */
export function parseTypedHash(text: string): Sha256Hash {
  const colon = text.indexOf(":");
  if (colon < 0) {
    const sri = /^([A-Za-z0-9]+)-(.*)$/s.exec(text);
    if (sri) return parseSri(sri[1] as string, sri[2] as string);
    throw new HashFormatError("NoColonSeparator", "The string lacks a colon separator.");
  }
  const algorithm = text.slice(0, colon);
  const digest = text.slice(colon + 1);
  if (algorithm !== "sha256") {
    throw new HashFormatError("UnsupportedHashAlgorithm", `Hash algorithm ${algorithm} is not supported.`);
  }
  if (digest.length === BASE16_LEN) {
    const bad = /[^0-9a-fA-F]/.exec(digest);
    if (bad) {
      throw new HashFormatError(
        "InvalidBase16Hash",
        `Invalid base16 hash: Invalid character ${JSON.stringify(bad[0])} at position ${bad.index}`,
      );
    }
    return Sha256Hash.fromBytes(Buffer.from(digest, "hex"));
  }
  if (digest.length === BASE32_LEN) {
    try {
      return Sha256Hash.fromBytes(decodeNixBase32(digest));
    } catch {
      throw new HashFormatError("InvalidBase32Hash", "Invalid base32 hash.");
    }
  }
  throw new HashFormatError(
    "InvalidHashStringLength",
    `Invalid length for SHA-256 string: Must be either ${BASE16_LEN} (hexadecimal) or ${BASE32_LEN} (base32), got ${digest.length}.`,
  );
}

function parseSri(algorithm: string, payload: string): Sha256Hash {
  if (algorithm !== "sha256") {
    throw new HashFormatError("UnsupportedHashAlgorithm", `Hash algorithm ${algorithm} is not supported.`);
  }
  // Node's base64 decoder skips junk silently, so check the exact canonical shape first and the
  // round trip after (which rejects non-zero bits in the last character).
  const bytes = /^[A-Za-z0-9+/]{43}=$/.test(payload) ? Buffer.from(payload, "base64") : undefined;
  if (!bytes || bytes.length !== SHA256_BYTES || bytes.toString("base64") !== payload) {
    throw new HashFormatError("InvalidSriHash", "Invalid SRI hash: expected sha256- followed by 44 base64 characters.");
  }
  return Sha256Hash.fromBytes(bytes);
}
