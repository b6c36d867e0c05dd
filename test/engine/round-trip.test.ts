import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  narInfoFingerprint,
  parseNarInfo,
  parsePublicKey,
  parseTypedHash,
  toTypedBase16,
  verifySignature,
  type CompressionType,
} from "@attic-ts/core";
import { NativeCompressor } from "@attic-ts/compression";
import { addFiles, buildPath, dumpNar, pathInfo, uploadInfoFor } from "../helpers/nix.ts";
import { collect, pseudoRandomBytes, sha256Hex, slices } from "../helpers/data.ts";
import { createCache, ROOT, servedNarBytes, snapshot, startTestEngine, TEST_MATRIX, type TestEngine } from "../helpers/engine.ts";

// Every compression in every database × storage combination: the database sees only a string
// column, but stored sizes differ per compression, and S3 answers a single-chunk NAR with a
// redirect to a presigned GET (Attic's 307) whatever its compression, where a multi-chunk one is
// streamed by the engine.
const compressions = TEST_MATRIX.flatMap(([db, storage]) =>
  ([["none", "none"], ["zstd", "zstd"], ["xz", "xz"], ["brotli", "br"]] as const).map(([configType, storedType]) => [configType, storedType, db, storage] as const),
);
// Small chunk sizes so a 1.5 MiB NAR is cut into dozens of chunks.
const chunked = { "nar-size-threshold": 1, "min-size": 4096, "avg-size": 16384, "max-size": 65536 };
const whole = { "nar-size-threshold": 0, "min-size": 16384, "avg-size": 65536, "max-size": 262144 };

let dataPath: string;
let builtPath: string;
const decoder = new NativeCompressor({ workers: 1 });

beforeAll(async () => {
  dataPath = await addFiles("round-trip-data", {
    "blob.bin": pseudoRandomBytes(7, 1_500_000),
    "README": "attic-ts round trip\n".repeat(2000),
  });
  builtPath = await buildPath("round-trip-built", `echo ${dataPath} > $out`, [dataPath]);
});

afterAll(async () => {
  await decoder.close();
});

describe.each(compressions)("compression %s (stored %s) on %s, %s", (configType, storedType, db, storage) => {
  describe.each([
    ["chunked", chunked],
    ["unchunked", whole],
  ] as const)("%s", (_mode, chunking) => {
    let t: TestEngine;
    beforeAll(async () => {
      t = await startTestEngine({ compression: { type: configType }, chunking }, { db, storage });
      await createCache(t.engine, "rt");
    });
    afterAll(async () => t?.close());

    it.each([["data path"], ["built path"]])("stores and serves the %s byte for byte with a valid signature", async (which) => {
      const path = which === "data path" ? dataPath : builtPath;
      const info = await uploadInfoFor("rt", path);
      const result = await t.engine.uploads.uploadPath(ROOT, info, dumpNar(path));
      expect(result.kind).toBe("Uploaded");

      const hash = info.store_path_hash;
      const narinfoText = (await t.engine.binaryCache.narInfo(ROOT, "rt", `${hash}.narinfo`)).body;
      const narinfo = parseNarInfo(narinfoText);
      expect(narinfo.storePath).toBe(path);
      expect(narinfo.url).toBe(`nar/${hash}.nar`);
      expect(narinfo.narHash.toTypedBase16()).toBe(toTypedBase16(parseTypedHash(info.nar_hash)));
      expect(narinfo.narSize).toBe(info.nar_size);
      expect(narinfo.references).toEqual(info.references);

      const config = await t.engine.caches.get(ROOT, "rt", { apiEndpoint: "http://x/", substituterEndpoint: "http://x/" });
      const fingerprint = narInfoFingerprint(narinfo);
      expect(narinfo.sigs).toHaveLength(1);
      expect(verifySignature(parsePublicKey(config.public_key), fingerprint, narinfo.sigs[0]!)).toBe(true);

      const nar = await t.inspect("nar").where({ nar_hash: narinfo.narHash.toTypedBase16() }).first();
      expect(nar.compression).toBe(storedType);
      if (chunking === chunked && which === "data path") expect(nar.num_chunks).toBeGreaterThan(10);
      if (chunking === whole) expect(nar.num_chunks).toBe(1);
      if (t.s3) {
        // Every chunk is an object at the bucket's root, named as Attic names it.
        const chunks = await t.inspect("chunkref").join("chunk", "chunk.id", "chunkref.chunk_id").where("chunkref.nar_id", nar.id).select("chunk.remote_file");
        expect(chunks).toHaveLength(nar.num_chunks);
        for (const row of chunks) {
          const ref = JSON.parse(row.remote_file as string) as { S3: { region: string; bucket: string; key: string } };
          expect(ref.S3.bucket).toBe(t.s3.bucket);
          expect(ref.S3.key).toMatch(/^[0-9a-f-]{36}\.chunk$/);
        }
      }

      const served = await t.engine.binaryCache.nar(ROOT, "rt", `${hash}.nar`);
      const stored = await servedNarBytes(served.body, storage === "s3" && nar.num_chunks === 1);
      const compression = narinfo.compression as CompressionType;
      const plain = await collect(decoder.decompress(compression, slices(stored, 65536)));
      expect(sha256Hex(plain)).toBe(narinfo.narHash.toHex());
      expect(plain.equals(await collect(dumpNar(path)))).toBe(true);
      // Multi-chunk brotli is served decompressed (brotli streams do not concatenate).
      expect(compression).toBe(storedType === "br" && nar.num_chunks > 1 ? "none" : storedType);
      if (which === "data path" && storedType !== "none" && compression !== "none") expect(stored.length).toBeLessThan(plain.length);
    });

    it("leaves no pending rows or holds behind, and one stored file or object per chunk row", async () => {
      const state = await snapshot(t);
      expect(state.pendingOrHeld).toBe(0);
      expect(state.files).toHaveLength(state.chunk);
    });
  });
});

describe.each(TEST_MATRIX)("narinfo of a built path (%s, %s)", (db, storage) => {
  it("matches what Nix itself reports", async () => {
    const t = await startTestEngine({}, { db, storage });
    try {
      await createCache(t.engine, "nixinfo");
      const info = await uploadInfoFor("nixinfo", builtPath);
      await t.engine.uploads.uploadPath(ROOT, info, dumpNar(builtPath));
      const [nixInfo] = await pathInfo([builtPath]);
      const narinfo = parseNarInfo((await t.engine.binaryCache.narInfo(ROOT, "nixinfo", `${info.store_path_hash}.narinfo`)).body);
      expect(narinfo.narHash.toTypedBase16()).toBe(toTypedBase16(parseTypedHash(nixInfo!.narHash)));
      expect(narinfo.references.map((r) => `/nix/store/${r}`)).toEqual(nixInfo!.references);
    } finally {
      await t.close();
    }
  });
});
