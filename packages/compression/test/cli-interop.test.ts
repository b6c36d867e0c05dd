import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from "node:zlib";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NativeCompressor } from "../src/index.ts";
import { collect, mixedData, runCli, slices, textLike } from "./helpers.ts";

// Cross-checks against the reference codecs: the zstd and xz CLIs (Debian zstd, xz-utils) and
// zlib's brotli (the brotli CLI is not installed on every machine).
// 1 MiB blocks, below the defaults, so the multi-MiB input becomes several zstd frames and xz streams.
const compressor = new NativeCompressor({ workers: 2, blockSize: 1024 * 1024 });
afterAll(() => compressor.close());

const input = mixedData();

/** Writes `bytes` to a temporary file for CLIs that cannot list stdin; returns the CLI's text output. */
async function withTempFile(bytes: Uint8Array, run: (file: string) => Promise<Buffer>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "attic-compression-"));
  try {
    const file = join(dir, "body");
    await writeFile(file, bytes);
    return (await run(file)).toString();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("zstd and xz against the CLIs", () => {
  it.each([
    ["zstd", ["-d", "-c"]],
    ["xz", ["-d", "-c"]],
  ] as const)("our %s output decodes with the CLI to identical bytes", async (type, args) => {
    const packed = await collect(compressor.compress(type, slices(input)));
    const decoded = await runCli(type, args, packed);
    expect(decoded.equals(input)).toBe(true);
  });

  it.each([
    ["zstd", ["-8", "-c"]],
    ["zstd", ["-3", "--no-content-size", "-c"]],
    ["xz", ["-2", "-c"]],
    ["xz", ["-6", "--check=sha256", "-c"]],
  ] as const)("%s %j output decodes with our decompressor", async (type, args) => {
    const packed = await runCli(type, args, input);
    const decoded = await collect(compressor.decompress(type, slices(packed, [1, 999, 131_072])));
    expect(decoded.equals(input)).toBe(true);
  });

  it.each(["zstd", "xz"] as const)("%s: two independently compressed outputs concatenate into one body", async (type) => {
    // As a multi-chunk NAR body: each chunk compressed on its own, stored files concatenated.
    const first = textLike(300_000, 21);
    const second = input;
    const packed = Buffer.concat([
      await collect(compressor.compress(type, slices(first))),
      await collect(compressor.compress(type, slices(second))),
    ]);
    const plain = Buffer.concat([first, second]);
    expect((await runCli(type, ["-d", "-c"], packed)).equals(plain)).toBe(true);
    expect((await collect(compressor.decompress(type, slices(packed)))).equals(plain)).toBe(true);
  });

  it("a multi-MiB zstd body is several frames that record the total content size", async () => {
    const packed = await collect(compressor.compress("zstd", slices(input)));
    const listing = await withTempFile(packed, (file) => runCli("zstd", ["-lv", file], new Uint8Array()));
    expect(Number(/Zstandard Frames:\s*(\d+)/.exec(listing)?.[1])).toBeGreaterThan(1);
    expect(listing).toContain(`(${input.byteLength} B)`);
    // No XXH64 checksum: libzstd's default, which Attic's encoder keeps.
    expect(listing).toMatch(/Check: None/);
  });

  it("a multi-MiB xz body is several streams, each with the CRC64 check xz(1) and Attic use", async () => {
    const packed = await collect(compressor.compress("xz", slices(input)));
    const robot = await withTempFile(packed, (file) => runCli("xz", ["--robot", "--list", file], new Uint8Array()));
    // totals <streams> <blocks> <compressed> <uncompressed> <ratio> <checks> ...
    const totals = robot.split("\n").find((line) => line.startsWith("totals\t"))?.split("\t") ?? [];
    expect(Number(totals[1])).toBeGreaterThan(1);
    expect(Number(totals[4])).toBe(input.byteLength);
    expect(totals[6]).toBe("CRC64");
  });
});

describe("brotli against zlib", () => {
  it("our brotli output decodes with zlib's one-shot decoder", async () => {
    const packed = await collect(compressor.compress("br", slices(input)));
    expect(brotliDecompressSync(packed).equals(input)).toBe(true);
  });

  it("zlib brotli output decodes with our decompressor", async () => {
    const packed = brotliCompressSync(input, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } });
    expect((await collect(compressor.decompress("br", slices(packed)))).equals(input)).toBe(true);
  });
});
