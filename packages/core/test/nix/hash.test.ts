import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { isAtticError } from "../../src/errors.ts";
import { HashFormatError, parseTypedHash, Sha256Hash, toSri, toTypedBase16, toTypedBase32 } from "../../src/nix/hash.ts";
import { nix, requireNixCli } from "./nix-cli.ts";

const HEX = "sha256:baeabdb75c223d171800c17b05c5e7e8e9980723a90eb6ffcc632a305afc5a42";
const NIX32 = "sha256:0hjszid30ak3rkzvc3m94c3risg8wz2hayy100c1fg92bjvvvsms";
const SRI = "sha256-uuq9t1wiPRcYAMF7BcXn6OmYByOpDrb/zGMqMFr8WkI=";

function errorOf(fn: () => unknown): HashFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HashFormatError);
    expect(isAtticError(err)).toBe(true);
    expect((err as HashFormatError).code).toBe("HashError");
    return err as HashFormatError;
  }
  throw new Error("expected a HashFormatError");
}

describe("Sha256Hash / parseTypedHash", () => {
  it("parses the hex, nix32 and SRI forms of the same digest", () => {
    const a = parseTypedHash(HEX);
    const b = parseTypedHash(NIX32);
    const c = parseTypedHash(SRI);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(true);
    expect(a.toTypedBase16()).toBe(HEX);
    expect(a.toTypedBase32()).toBe(NIX32);
    expect(a.toSri()).toBe(SRI);
    expect(toTypedBase16(c)).toBe(HEX);
    expect(toTypedBase32(c)).toBe(NIX32);
    expect(toSri(b)).toBe(SRI);
    expect(String(a)).toBe(HEX);
    expect(JSON.stringify({ h: a })).toBe(`{"h":"${HEX}"}`);
  });

  it("accepts upper-case hex like Rust's hex crate, printing lower case", () => {
    expect(parseTypedHash(HEX.toUpperCase().replace("SHA256", "sha256")).toTypedBase16()).toBe(HEX);
  });

  it("hashes the Attic test blob vector", () => {
    // attic/src/hash/tests test_basic: the digest's two encodings.
    const h = parseTypedHash("sha256:df3404eaf1481506db9ca155e0a871d5b4d22e62a96961e8bf4ad1a8ca525330");
    expect(h.toTypedBase32()).toBe("sha256:0c2kab5ailaapzl62sd9c8pd5d6mf6lf0md1kkdhc5a8y7m08d6z");
    expect(Sha256Hash.of("hello world").toHex()).toBe("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  });

  it("reports Attic's from_typed error cases", () => {
    expect(errorOf(() => parseTypedHash("sha256")).reason).toBe("NoColonSeparator");
    const empty = errorOf(() => parseTypedHash("sha256:"));
    expect(empty.reason).toBe("InvalidHashStringLength");
    expect(empty.message).toBe(
      "Hashing error: Invalid length for SHA-256 string: Must be either 64 (hexadecimal) or 52 (base32), got 0.",
    );
    expect(errorOf(() => parseTypedHash(`sha256:${"e".repeat(52)}`)).reason).toBe("InvalidBase32Hash");
    const g = errorOf(() => parseTypedHash(`sha256:${"g".repeat(64)}`));
    expect(g.reason).toBe("InvalidBase16Hash");
    expect(g.message).toContain("Invalid character \"g\" at position 0");
    const md5 = errorOf(() => parseTypedHash("md5:invalid"));
    expect(md5.reason).toBe("UnsupportedHashAlgorithm");
    expect(md5.message).toBe("Hashing error: Hash algorithm md5 is not supported.");
  });

  it("rejects base32 with non-zero padding bits", () => {
    expect(errorOf(() => parseTypedHash(`sha256:z${"0".repeat(51)}`)).reason).toBe("InvalidBase32Hash");
  });

  it("rejects malformed SRI", () => {
    expect(errorOf(() => parseTypedHash("md5-1B2M2Y8AsgTpgAmY7PhCfg==")).reason).toBe("UnsupportedHashAlgorithm");
    for (const bad of [
      "sha256-",
      "sha256-uuq9t1wiPRcYAMF7BcXn6OmYByOpDrb/zGMqMFr8WkI", // unpadded
      "sha256-uuq9t1wiPRcYAMF7BcXn6OmYByOpDrb/zGMqMFr8WkJ=", // non-zero trailing bits
      "sha256-uuq9t1wiPRcYAMF7BcXn6OmYByOpDrb/zGMqMFr8W!I=",
      "sha256-uuq9t1wiPRcYAMF7BcXn6OmYByOpDrb_zGMqMFr8WkI=", // base64url
      `${SRI}AAAA`,
    ]) {
      expect(errorOf(() => parseTypedHash(bad)).reason).toBe("InvalidSriHash");
    }
  });

  it("is immutable and validates its length", () => {
    const h = Sha256Hash.of("x");
    const bytes = h.bytes;
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    expect(h.bytes).not.toEqual(bytes);
    expect(() => Sha256Hash.fromBytes(new Uint8Array(31))).toThrow(RangeError);
  });

  describe("agrees with the real Nix CLI", () => {
    beforeAll(() => requireNixCli());

    it("formats random digests as nix hash to-base16/to-base32/to-sri do", () => {
      for (let rep = 0; rep < 3; rep++) {
        const h = Sha256Hash.fromBytes(randomBytes(32));
        // Feed Nix one form and compare its other forms with ours.
        expect(nix("nix", ["hash", "to-base32", h.toSri()])).toBe(h.toNixBase32());
        expect(nix("nix", ["hash", "to-base16", h.toTypedBase32()])).toBe(h.toHex());
        expect(nix("nix", ["hash", "to-sri", h.toTypedBase16()])).toBe(h.toSri());
        expect(parseTypedHash(nix("nix", ["hash", "to-sri", h.toTypedBase32()])).equals(h)).toBe(true);
      }
    });
  });
});
