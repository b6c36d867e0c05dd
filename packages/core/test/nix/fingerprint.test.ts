import { describe, expect, it } from "vitest";
import { narInfoFingerprint } from "../../src/nix/fingerprint.ts";
import { parseTypedHash } from "../../src/nix/hash.ts";
import { parseNarInfo } from "../../src/nix/narinfo.ts";
import { parsePublicKey, verifySignature } from "../../src/nix/signing-key.ts";

// server/src/narinfo/tests.rs `test_fingerprint` (spec §3.2): a real cache.nixos.org narinfo.
const STORE_PATH = "/nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10";
const REFS = ["563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56", "xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10"];
const NAR_HASH_HEX = "sha256:91e129ac1959d062ad093d2b1f8b65afae0f712056fe3eac78ec530ff6a1bb9a";
const EXPECTED =
  "1;/nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10;sha256:16mvl7v0ylzcg2n3xzjn41qhzbmgcn5iyarx16nn5l2r36n2kqci;206104;" +
  "/nix/store/563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56,/nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10";
const NIXOS_KEY = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";
const NIXOS_SIG =
  "cache.nixos.org-1:lo9EfNIL4eGRuNh7DTbAAffWPpI2SlYC/8uP7JnhgmfRIUNGhSbFe8qEaKN0mFS02TuhPpXFPNtRkFcCp0hGAQ==";

describe("narInfoFingerprint", () => {
  it("reproduces the Attic/Nix vector from every hash form", () => {
    const hash = parseTypedHash(NAR_HASH_HEX);
    for (const narHash of [NAR_HASH_HEX, hash.toTypedBase32(), hash.toSri(), hash]) {
      expect(narInfoFingerprint({ storePath: STORE_PATH, narHash, narSize: 206104, references: REFS })).toBe(EXPECTED);
    }
    expect(narInfoFingerprint({ storePath: STORE_PATH, narHash: hash, narSize: 206104n, references: REFS })).toBe(EXPECTED);
  });

  it("verifies cache.nixos.org's real signature of it, and nothing else", () => {
    expect(verifySignature(NIXOS_KEY, EXPECTED, NIXOS_SIG)).toBe(true);
    expect(verifySignature(parsePublicKey(NIXOS_KEY), Buffer.from(EXPECTED), NIXOS_SIG)).toBe(true);
    // One changed byte anywhere in the message breaks it.
    expect(verifySignature(NIXOS_KEY, EXPECTED.replace("206104", "206105"), NIXOS_SIG)).toBe(false);
    expect(verifySignature(NIXOS_KEY, EXPECTED.replace(",", " "), NIXOS_SIG)).toBe(false);
  });

  it("works from a parsed narinfo", () => {
    const info = parseNarInfo(`StorePath: ${STORE_PATH}
URL: nar/0nqgf15qfiacfxrgm2wkw0gwwncjqqzzalj8rs14w9srkydkjsk9.nar.xz
Compression: xz
NarHash: ${NAR_HASH_HEX}
NarSize: 206104
References: ${REFS.join(" ")}
Sig: ${NIXOS_SIG}
`);
    expect(narInfoFingerprint(info)).toBe(EXPECTED);
    expect(verifySignature(NIXOS_KEY, narInfoFingerprint(info), info.sigs[0] as string)).toBe(true);
  });

  it("uses the store path's own directory and an empty reference list", () => {
    const hash = parseTypedHash(NAR_HASH_HEX);
    expect(
      narInfoFingerprint({
        storePath: "/gnu/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10",
        narHash: hash,
        narSize: 1,
        references: ["563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56"],
      }),
    ).toBe(`1;/gnu/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10;${hash.toTypedBase32()};1;/gnu/store/563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56`);
    expect(narInfoFingerprint({ storePath: STORE_PATH, narHash: hash, narSize: 0, references: [] })).toBe(
      `1;${STORE_PATH};${hash.toTypedBase32()};0;`,
    );
  });

  it("rejects a bad store path or hash", () => {
    expect(() => narInfoFingerprint({ storePath: "hello", narHash: NAR_HASH_HEX, narSize: 1, references: [] })).toThrow(
      expect.objectContaining({ code: "InvalidStorePath" }),
    );
    expect(() => narInfoFingerprint({ storePath: STORE_PATH, narHash: "md5:x", narSize: 1, references: [] })).toThrow(
      expect.objectContaining({ code: "HashError" }),
    );
  });
});
