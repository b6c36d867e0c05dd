import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { narInfoFingerprint } from "../../src/nix/fingerprint.ts";
import { parseTypedHash } from "../../src/nix/hash.ts";
import { parseNarInfo, parseNixCacheInfo, serializeNarInfo, serializeNixCacheInfo, type NarInfo } from "../../src/nix/narinfo.ts";
import { generateSigningKey } from "../../src/nix/signing-key.ts";
import { buildTestPaths, nix, requireNixCli, tempStore, type TempStore } from "./nix-cli.ts";

// server/src/narinfo/tests.rs: hello-2.10 as served by cache.nixos.org (leading blank line and
// trailing indentation included, as in the Rust raw string).
const CACHE_NIXOS_ORG = `
StorePath: /nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10
URL: nar/0nqgf15qfiacfxrgm2wkw0gwwncjqqzzalj8rs14w9srkydkjsk9.nar.xz
Compression: xz
FileHash: sha256:0nqgf15qfiacfxrgm2wkw0gwwncjqqzzalj8rs14w9srkydkjsk9
FileSize: 41104
NarHash: sha256:16mvl7v0ylzcg2n3xzjn41qhzbmgcn5iyarx16nn5l2r36n2kqci
NarSize: 206104
References: 563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56 xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10
Deriver: vvb4wxmnjixmrkhmj2xb75z62hrr41i7-hello-2.10.drv
Sig: cache.nixos.org-1:lo9EfNIL4eGRuNh7DTbAAffWPpI2SlYC/8uP7JnhgmfRIUNGhSbFe8qEaKN0mFS02TuhPpXFPNtRkFcCp0hGAQ==
    `;

function checkHello(info: NarInfo): void {
  expect(info.storePath).toBe("/nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10");
  expect(info.url).toBe("nar/0nqgf15qfiacfxrgm2wkw0gwwncjqqzzalj8rs14w9srkydkjsk9.nar.xz");
  expect(info.compression).toBe("xz");
  expect(info.fileHash?.toTypedBase32()).toBe("sha256:0nqgf15qfiacfxrgm2wkw0gwwncjqqzzalj8rs14w9srkydkjsk9");
  expect(info.fileSize).toBe(41104);
  expect(info.narHash.toTypedBase32()).toBe("sha256:16mvl7v0ylzcg2n3xzjn41qhzbmgcn5iyarx16nn5l2r36n2kqci");
  expect(info.narSize).toBe(206104);
  expect(info.references).toEqual([
    "563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56",
    "xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10",
  ]);
  expect(info.deriver).toBe("vvb4wxmnjixmrkhmj2xb75z62hrr41i7-hello-2.10.drv");
  expect(info.sigs).toEqual([
    "cache.nixos.org-1:lo9EfNIL4eGRuNh7DTbAAffWPpI2SlYC/8uP7JnhgmfRIUNGhSbFe8qEaKN0mFS02TuhPpXFPNtRkFcCp0hGAQ==",
  ]);
  expect(info.system).toBeUndefined();
  expect(info.ca).toBeUndefined();
}

describe("narinfo", () => {
  it("parses a cache.nixos.org narinfo and survives a serialize/parse round trip", () => {
    const info = parseNarInfo(CACHE_NIXOS_ORG);
    checkHello(info);
    const text = serializeNarInfo(info);
    checkHello(parseNarInfo(text));
    expect(serializeNarInfo(parseNarInfo(text))).toBe(text);
  });

  it("serializes in Attic's exact field order and formats", () => {
    const text = serializeNarInfo({
      ...parseNarInfo(CACHE_NIXOS_ORG),
      system: "x86_64-linux",
      sigs: ["a:c2ln", "b:c2ln"],
      ca: "fixed:r:sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s",
    });
    expect(text).toBe(
      [
        "StorePath: /nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10",
        "URL: nar/0nqgf15qfiacfxrgm2wkw0gwwncjqqzzalj8rs14w9srkydkjsk9.nar.xz",
        "Compression: xz",
        `FileHash: ${parseTypedHash("sha256:0nqgf15qfiacfxrgm2wkw0gwwncjqqzzalj8rs14w9srkydkjsk9").toTypedBase16()}`,
        "FileSize: 41104",
        "NarHash: sha256:91e129ac1959d062ad093d2b1f8b65afae0f712056fe3eac78ec530ff6a1bb9a",
        "NarSize: 206104",
        "References: 563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56 xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10",
        "System: x86_64-linux",
        "Deriver: vvb4wxmnjixmrkhmj2xb75z62hrr41i7-hello-2.10.drv",
        "Sig: a:c2ln",
        "Sig: b:c2ln",
        "CA: fixed:r:sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s",
        "",
      ].join("\n"),
    );
  });

  it("writes Attic's shape: no file fields, empty References line, hash strings normalized", () => {
    const text = serializeNarInfo({
      storePath: "/nix/store/r5d7217c0rjd5iiz1g2nhvd15frck9x2-attic-0.1.0",
      url: "nar/r5d7217c0rjd5iiz1g2nhvd15frck9x2.nar",
      compression: "zstd",
      narHash: "sha256:16mvl7v0ylzcg2n3xzjn41qhzbmgcn5iyarx16nn5l2r36n2kqci",
      narSize: 206104,
      references: [],
      sigs: ["hello:vlsd"],
    });
    expect(text).toBe(
      "StorePath: /nix/store/r5d7217c0rjd5iiz1g2nhvd15frck9x2-attic-0.1.0\n" +
        "URL: nar/r5d7217c0rjd5iiz1g2nhvd15frck9x2.nar\n" +
        "Compression: zstd\n" +
        "NarHash: sha256:91e129ac1959d062ad093d2b1f8b65afae0f712056fe3eac78ec530ff6a1bb9a\n" +
        "NarSize: 206104\n" +
        "References: \n" +
        "Sig: hello:vlsd\n",
    );
    expect(parseNarInfo(text).references).toEqual([]);
  });

  it("maps Deriver: unknown-deriver to no deriver", () => {
    const info = parseNarInfo(CACHE_NIXOS_ORG.replace(/Deriver: .*/, "Deriver: unknown-deriver"));
    expect(info.deriver).toBeUndefined();
    expect(serializeNarInfo(info)).not.toContain("Deriver");
  });

  it("tolerates unknown keys, missing optional lines and CRLF; collects every Sig", () => {
    const info = parseNarInfo(
      "StorePath: /nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10\r\n" +
        "URL: nar/x.nar\r\nNarHash: sha256:16mvl7v0ylzcg2n3xzjn41qhzbmgcn5iyarx16nn5l2r36n2kqci\r\n" +
        "NarSize: 5\r\nFutureField: whatever: with colons\r\nSig: a:x\r\nSig: b:y\r\nCA: text:sha256:abc\r\n",
    );
    expect(info.compression).toBe("bzip2"); // Nix's default when absent
    expect(info.references).toEqual([]);
    expect(info.sigs).toEqual(["a:x", "b:y"]);
    expect(info.ca).toBe("text:sha256:abc");
    expect(info.fileHash).toBeUndefined();
  });

  it("rejects missing required fields and malformed values", () => {
    const without = (key: string): string => CACHE_NIXOS_ORG.replace(new RegExp(`${key}: .*\\n`), "");
    for (const key of ["StorePath", "URL", "NarHash", "NarSize"]) {
      expect(() => parseNarInfo(without(key))).toThrow(expect.objectContaining({ code: "RequestError" }));
    }
    expect(() => parseNarInfo(CACHE_NIXOS_ORG.replace("NarSize: 206104", "NarSize: -1"))).toThrow(
      expect.objectContaining({ code: "RequestError" }),
    );
    expect(() => parseNarInfo(CACHE_NIXOS_ORG.replace("NarHash: sha256:", "NarHash: md5:"))).toThrow(
      expect.objectContaining({ code: "HashError" }),
    );
    expect(() => parseNarInfo(CACHE_NIXOS_ORG.replace("StorePath: /nix/store/", "StorePath: nix/"))).toThrow(
      expect.objectContaining({ code: "InvalidStorePath" }),
    );
    expect(() => parseNarInfo(CACHE_NIXOS_ORG.replace("References: 5635", "References: !635"))).toThrow(
      expect.objectContaining({ code: "InvalidStorePathName" }),
    );
    expect(() => parseNarInfo(`${CACHE_NIXOS_ORG}\nno colon here\n`)).toThrow(expect.objectContaining({ code: "RequestError" }));
  });

  it("refuses values that would inject lines", () => {
    const info = parseNarInfo(CACHE_NIXOS_ORG);
    expect(() => serializeNarInfo({ ...info, ca: "x\nSig: evil:AAAA" })).toThrow(RangeError);
    expect(() => serializeNarInfo({ ...info, deriver: "a\rb" })).toThrow(RangeError);
  });
});

describe("nix-cache-info", () => {
  it("serializes exactly like Attic", () => {
    expect(serializeNixCacheInfo({ storeDir: "/nix/store", priority: 41, wantMassQuery: true })).toBe(
      "WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 41\n",
    );
    expect(serializeNixCacheInfo({ storeDir: "/gnu/store", priority: 7, wantMassQuery: false })).toBe(
      "WantMassQuery: 0\nStoreDir: /gnu/store\nPriority: 7\n",
    );
  });

  it("parses with Nix's defaults (nix_manifest round trip)", () => {
    expect(parseNixCacheInfo("StoreDir: /nix/store\nWantMassQuery: 1")).toEqual({
      storeDir: "/nix/store",
      priority: 50,
      wantMassQuery: true,
    });
    const text = serializeNixCacheInfo({ storeDir: "/nix/store", priority: 41, wantMassQuery: true });
    expect(serializeNixCacheInfo(parseNixCacheInfo(text))).toBe(text);
  });
});

describe("Nix substitutes from narinfos we write and sign", () => {
  let dir: string;
  let source: TempStore;
  let top: string;
  let cacheDir: string;
  let cacheUri: string;

  beforeAll(() => {
    requireNixCli();
    dir = mkdtempSync(join(tmpdir(), "attic-ts-narinfo-"));
    source = tempStore(join(dir, "src"));
    top = buildTestPaths(source, dir, "narinfo").top;
    // Let Nix write a plain binary cache (uncompressed NARs), then replace its metadata.
    cacheDir = join(dir, "cache");
    cacheUri = `file://${cacheDir}?compression=none&store=${source.storeDir}`;
    nix("nix", ["copy", "--store", source.uri, "--to", cacheUri, top]);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Rewrites every narinfo as Attic would serve it, signed with `key`. */
  function rewriteCache(sign: (fingerprint: string) => string): void {
    writeFileSync(
      join(cacheDir, "nix-cache-info"),
      serializeNixCacheInfo({ storeDir: source.storeDir, priority: 41, wantMassQuery: true }),
    );
    for (const file of readdirSync(cacheDir).filter((f) => f.endsWith(".narinfo"))) {
      const nixWritten = parseNarInfo(readFileSync(join(cacheDir, file), "utf8"));
      const ours = serializeNarInfo({
        storePath: nixWritten.storePath,
        url: nixWritten.url,
        compression: nixWritten.compression,
        narHash: nixWritten.narHash,
        narSize: nixWritten.narSize,
        references: nixWritten.references,
        ...(nixWritten.deriver !== undefined ? { deriver: nixWritten.deriver } : {}),
        sigs: [sign(narInfoFingerprint(nixWritten))],
      });
      expect(ours).toMatch(/^NarHash: sha256:[0-9a-f]{64}$/m); // Attic's hex form
      writeFileSync(join(cacheDir, file), ours);
    }
  }

  function copyInto(trustedKey: string, tag: string): string {
    const target = tempStore(join(dir, tag), source.storeDir);
    nix("nix", ["copy", "--from", cacheUri, "--store", target.uri, "--option", "trusted-public-keys", trustedKey,
      "--option", "narinfo-cache-negative-ttl", "0", "--option", "narinfo-cache-positive-ttl", "0", top]);
    return join(dir, tag, "real", top.slice(top.lastIndexOf("/") + 1));
  }

  it("accepts the closure under our key and rejects it under another", () => {
    const key = generateSigningKey("attic-ts-cache-1");
    rewriteCache((fp) => key.sign(fp));
    const copied = copyInto(key.publicKeyString(), "good");
    expect(existsSync(copied)).toBe(true);
    expect(readFileSync(copied, "utf8")).toMatch(/-dep-narinfo\n$/);

    const other = generateSigningKey("attic-ts-cache-1");
    expect(() => copyInto(other.publicKeyString(), "bad")).toThrow(/lacks a valid signature/);
  });
});
