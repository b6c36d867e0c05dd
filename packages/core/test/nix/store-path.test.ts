import { describe, expect, it } from "vitest";
import { NixFormatError } from "../../src/errors.ts";
import {
  assertStorePathHash,
  assertStorePathName,
  isValidStorePathHash,
  isValidStorePathName,
  parseStorePath,
  parseStorePathBaseName,
} from "../../src/nix/store-path.ts";

const HASH = "ia70ss13m22znbl8khrf2hq72qmh5drr";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NixFormatError);
    return (err as NixFormatError).code;
  }
  throw new Error("expected a NixFormatError");
}

describe("store path hashes", () => {
  it("accepts 32 nix-base32 characters", () => {
    expect(isValidStorePathHash(HASH)).toBe(true);
    expect(assertStorePathHash(HASH)).toBe(HASH);
  });

  it.each([
    ["e".repeat(32), "banned letter e"],
    ["IA70SS13M22ZNBL8KHRF2HQ72QMH5DRR", "upper case"],
    ["ia70ss13m22znbl8khrf2hq", "too short"],
    [`${HASH}0`, "too long"],
    ["whatevenisthisthing", "nonsense"],
    ["", "empty"],
  ])("rejects %s (%s)", (hash) => {
    expect(isValidStorePathHash(hash)).toBe(false);
    expect(codeOf(() => assertStorePathHash(hash))).toBe("InvalidStorePathHash");
  });

  it("words errors like Attic", () => {
    expect(() => assertStorePathHash("abc")).toThrow('Invalid store path hash "abc": Hash is of invalid length');
    expect(() => assertStorePathHash("e".repeat(32))).toThrow("Hash is of invalid format");
  });
});

describe("store path names", () => {
  it.each(["ruby-2.7.5", "hello", "a+b-c.d_e?f=g", "X", "x".repeat(211), ".foo", "..bar", "a..", "glibc-2.33-56"])(
    "accepts %s",
    (name) => {
      expect(isValidStorePathName(name)).toBe(true);
      expect(assertStorePathName(name)).toBe(name);
    },
  );

  it.each(["", "x".repeat(212), "shocking!!!", "a b", "a/b", "a,b", "naïve", ".", "..", ".-x", "..-x"])(
    "rejects %j",
    (name) => {
      expect(isValidStorePathName(name)).toBe(false);
      expect(codeOf(() => assertStorePathName(name))).toBe("InvalidStorePathName");
    },
  );
});

describe("parseStorePathBaseName", () => {
  it("splits hash and name at the first dash", () => {
    expect(parseStorePathBaseName(`${HASH}-ruby-2.7.5`)).toEqual({
      hash: HASH,
      name: "ruby-2.7.5",
      baseName: `${HASH}-ruby-2.7.5`,
    });
  });

  it.each([
    `${"e".repeat(32)}-ruby-2.7.5`, // hash has bad characters
    `${HASH}-shocking!!!`, // name has bad characters
    `${HASH}-`, // name empty
    HASH, // no name
    "ia70ss13m22znbl8khrf2hq", // too short
    `${HASH}_ruby`, // no dash after the hash
  ])("rejects %s", (baseName) => {
    expect(codeOf(() => parseStorePathBaseName(baseName))).toBe("InvalidStorePathName");
  });
});

describe("parseStorePath", () => {
  it("parses a path in /nix/store and in another store dir", () => {
    expect(parseStorePath(`/nix/store/${HASH}-ruby-2.7.5`)).toEqual({
      storeDir: "/nix/store",
      hash: HASH,
      name: "ruby-2.7.5",
      baseName: `${HASH}-ruby-2.7.5`,
    });
    expect(parseStorePath(`/gnu/store/${HASH}-x`, "/gnu/store").storeDir).toBe("/gnu/store");
    expect(parseStorePath(`/tmp/t.1/nix/store/${HASH}-x`).storeDir).toBe("/tmp/t.1/nix/store");
  });

  it.each([
    [`/nix/store/${HASH}-firefox-91.0`, "/gnu/store", "InvalidStorePath"], // not in store dir
    [`/nix/store/${HASH}-firefox/bin/firefox`, "/nix/store", "InvalidStorePath"], // inside an object
    [`/nix/store/${HASH}-firefox/`, "/nix/store", "InvalidStorePath"], // trailing slash
    ["/nix/store", "/nix/store", "InvalidStorePath"], // the store dir itself
    ["/nix/store/", "/nix/store", "InvalidStorePath"],
    ["/nix/store/tooshort", undefined, "InvalidStorePath"],
    [`nix/store/${HASH}-x`, undefined, "InvalidStorePath"], // relative
    [`${HASH}-x`, undefined, "InvalidStorePath"], // a bare base name
    [`/${HASH}-x`, undefined, "InvalidStorePath"], // store dir "/"
    [`/nix//store/${HASH}-x`, undefined, "InvalidStorePath"],
    [`/nix/../store/${HASH}-x`, undefined, "InvalidStorePath"],
    [`/nix/store/${HASH}-bad name`, undefined, "InvalidStorePathName"],
    [`/nix/store/${"e".repeat(32)}-x`, undefined, "InvalidStorePathName"],
  ])("rejects %s in %s with %s", (path, storeDir, code) => {
    expect(codeOf(() => parseStorePath(path, storeDir))).toBe(code);
  });
});
