import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeNixBase32, encodeNixBase32, nixBase32Length } from "../../src/nix/nix-base32.ts";
import { nix, requireNixCli } from "./nix-cli.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));

// attic/src/hash/tests (spec §3.2).
const VECTORS: [string, string][] = [
  ["df3404eaf1481506db9ca155e0a871d5b4d22e62a96961e8bf4ad1a8ca525330", "0c2kab5ailaapzl62sd9c8pd5d6mf6lf0md1kkdhc5a8y7m08d6z"],
  ["baeabdb75c223d171800c17b05c5e7e8e9980723a90eb6ffcc632a305afc5a42", "0hjszid30ak3rkzvc3m94c3risg8wz2hayy100c1fg92bjvvvsms"],
];

describe("nix-base32", () => {
  it.each(VECTORS)("encodes %s as %s and back", (h, b32) => {
    expect(encodeNixBase32(hex(h))).toBe(b32);
    expect(Buffer.from(decodeNixBase32(b32)).toString("hex")).toBe(h);
  });

  it("has Nix's output lengths", () => {
    expect(nixBase32Length(32)).toBe(52);
    expect(nixBase32Length(20)).toBe(32);
    expect(nixBase32Length(16)).toBe(26);
    expect(nixBase32Length(64)).toBe(103);
    expect(encodeNixBase32(new Uint8Array(0))).toBe("");
    expect(decodeNixBase32("")).toEqual(new Uint8Array(0));
  });

  it("round-trips random data of many lengths", () => {
    for (let len = 0; len <= 70; len++) {
      for (let rep = 0; rep < 5; rep++) {
        const data = Uint8Array.from(randomBytes(len));
        const text = encodeNixBase32(data);
        expect(text).toMatch(/^[0-9abcdfghijklmnpqrsvwxyz]*$/);
        expect(text.length).toBe(nixBase32Length(len));
        expect(decodeNixBase32(text)).toEqual(data);
      }
    }
  });

  it("rejects characters outside the alphabet", () => {
    for (const bad of ["e", "o", "u", "t", "A", "-", " "]) {
      const text = `${bad}${"0".repeat(51)}`;
      expect(() => decodeNixBase32(text)).toThrow(RangeError);
    }
    expect(() => decodeNixBase32("e".repeat(52))).toThrow(/character/);
  });

  it("rejects lengths no byte count encodes to", () => {
    // 3 chars hold 15 bits: 1 byte needs 2 chars, 2 bytes need 4, so 3 is no encoding.
    expect(() => decodeNixBase32("000")).toThrow(/length/);
    expect(() => decodeNixBase32("0".repeat(51))).toThrow(/length/);
    expect(() => decodeNixBase32("0".repeat(54))).toThrow(/length/);
    expect(decodeNixBase32("0".repeat(53))).toHaveLength(33);
  });

  it("rejects non-zero padding bits in the first character", () => {
    // 52 chars carry 260 bits for 256: the first character holds only bit 255, so 0 or 1.
    expect(decodeNixBase32(`1${"0".repeat(51)}`).at(-1)).toBe(0x80);
    expect(() => decodeNixBase32(`2${"0".repeat(51)}`)).toThrow(/padding/);
    expect(() => decodeNixBase32(`z${"0".repeat(51)}`)).toThrow(/padding/);
    expect(() => decodeNixBase32(`g${"0".repeat(51)}`)).toThrow(/padding/);
  });

  describe("agrees with the real Nix CLI", () => {
    beforeAll(() => requireNixCli());

    it.each([
      ["md5", 16],
      ["sha1", 20],
      ["sha256", 32],
      ["sha512", 64],
    ] as const)("nix-hash --to-base32/--to-base16 for %s", (type, bytes) => {
      for (let rep = 0; rep < 3; rep++) {
        const data = Uint8Array.from(randomBytes(bytes));
        const h = Buffer.from(data).toString("hex");
        const ours = encodeNixBase32(data);
        expect(nix("nix-hash", ["--type", type, "--to-base32", h])).toBe(ours);
        expect(nix("nix-hash", ["--type", type, "--to-base16", ours])).toBe(h);
      }
    });

    it("rejects the same padding bits Nix rejects", () => {
      const bad = `z${"0".repeat(25)}`;
      expect(() => decodeNixBase32(bad)).toThrow(RangeError);
      expect(() => nix("nix-hash", ["--type", "md5", "--to-base16", bad])).toThrow();
    });
  });
});
