import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { atticFakeData, sliced } from "@attic-ts/core/testing";
import type { ChunkSizes } from "@attic-ts/core";
import { FastCdcChunker, GEAR_TABLE, chunkLengths, cutParameters } from "../src/index.ts";

// The reference data lives outside the repository, in `<repo root>/../shared/fixtures/fastcdc`.
const repoRoot = new URL("../../../", import.meta.url);
const fixtureDir = new URL("../shared/fixtures/fastcdc/", repoRoot);
if (!existsSync(fileURLToPath(new URL("golden-vectors.json", fixtureDir)))) {
  throw new Error(
    `FastCDC reference data not found at ${fileURLToPath(fixtureDir)}: the shared/ directory must sit beside the repository root`,
  );
}
const readFixture = (name: string): Buffer => readFileSync(new URL(name, fixtureDir));

interface GoldenVector extends ChunkSizes {
  input: string;
  inputLength: number;
  chunkLengths: number[];
}
const golden = JSON.parse(readFixture("golden-vectors.json").toString("utf8")) as { vectors: GoldenVector[] };
const gearFixture = JSON.parse(readFixture("ronomon-gear-table.json").toString("utf8")) as { table: number[] };

const inputs = new Map<string, Uint8Array>();
function input(name: string): Uint8Array {
  let bytes = inputs.get(name);
  if (bytes === undefined) {
    if (name === "SekienAkashita.jpg") bytes = new Uint8Array(readFixture(name));
    else if (name === "attic-fake-lcg-32MiB") bytes = atticFakeData(32 * 1024 * 1024);
    else if (name === "zeros-1MiB") bytes = new Uint8Array(1024 * 1024);
    else throw new Error(`golden vector names an unknown input: ${name}`);
    inputs.set(name, bytes);
  }
  return bytes;
}

async function streamedLengths(sizes: ChunkSizes, source: AsyncIterable<Uint8Array>): Promise<number[]> {
  const lengths: number[] = [];
  for await (const chunk of new FastCdcChunker(sizes).chunk(source)) lengths.push(chunk.length);
  return lengths;
}

const ODD_SLICES = [1, 4093, 65537, 0, 777, 300_001, 13];
const MiB = 1024 * 1024;

describe("ronomon gear table", () => {
  it("equals the reference table", () => {
    expect(GEAR_TABLE).toHaveLength(256);
    expect(Array.from(GEAR_TABLE)).toEqual(gearFixture.table);
  });
});

describe("golden vectors (fastcdc crate 4.0.1, ronomon)", () => {
  it("covers every input named in the fixture", () => {
    expect(new Set(golden.vectors.map((v) => v.input))).toEqual(
      new Set(["SekienAkashita.jpg", "attic-fake-lcg-32MiB", "zeros-1MiB"]),
    );
  });

  for (const v of golden.vectors) {
    const sizes = { minSize: v.minSize, avgSize: v.avgSize, maxSize: v.maxSize };
    const label = `${v.input} ${v.minSize}/${v.avgSize}/${v.maxSize}`;
    describe(label, () => {
      it("has the expected input", () => {
        expect(input(v.input).length).toBe(v.inputLength);
      });

      it("cut loop over the whole input", () => {
        expect(chunkLengths(input(v.input), sizes)).toEqual(v.chunkLengths);
      });

      it("streamed as one slice", async () => {
        expect(await streamedLengths(sizes, sliced(input(v.input), v.inputLength))).toEqual(v.chunkLengths);
      });

      it("streamed in odd-sized slices", async () => {
        expect(await streamedLengths(sizes, sliced(input(v.input), ODD_SLICES))).toEqual(v.chunkLengths);
      });

      it("streamed in 1 MiB slices", async () => {
        expect(await streamedLengths(sizes, sliced(input(v.input), MiB))).toEqual(v.chunkLengths);
      });

      if (v.inputLength <= MiB / 2) {
        it("streamed in 1-byte slices", async () => {
          expect(await streamedLengths(sizes, sliced(input(v.input), 1))).toEqual(v.chunkLengths);
        });
      }
    });
  }
});

describe("spec §2.6 vectors (SekienAkashita.jpg)", () => {
  const cases: [ChunkSizes, number[]][] = [
    [{ minSize: 8192, avgSize: 16384, maxSize: 32768 }, [22366, 8282, 16303, 18696, 32768, 11051]],
    [{ minSize: 16384, avgSize: 32768, maxSize: 65536 }, [32857, 16408, 60201]],
    [{ minSize: 32768, avgSize: 65536, maxSize: 131072 }, [32857, 76609]],
  ];
  for (const [sizes, expected] of cases) {
    it(`${sizes.minSize}/${sizes.avgSize}/${sizes.maxSize}`, async () => {
      const jpg = input("SekienAkashita.jpg");
      expect(jpg.length).toBe(109_466);
      expect(chunkLengths(jpg, sizes)).toEqual(expected);
      expect(await streamedLengths(sizes, sliced(jpg, 1000))).toEqual(expected);
    });
  }
});

/**
 * The README's rule transcribed literally (one byte at a time, u32 via `>>> 0`), as an independent
 * check of the optimised scan on windows of every alignment and on runs shorter than its word path.
 */
function referenceLengths(data: Uint8Array, { minSize, avgSize, maxSize }: ChunkSizes): number[] {
  const bits = Math.round(Math.log2(avgSize));
  const maskS = 2 ** (bits + 1) - 1;
  const maskL = 2 ** (bits - 1) - 1;
  const table = gearFixture.table;
  const lengths: number[] = [];
  let start = 0;
  while (start < data.length) {
    let n = data.length - start;
    let length = n;
    if (n > minSize) {
      n = Math.min(n, maxSize);
      const center = Math.min(n, avgSize - Math.min(avgSize, minSize + Math.ceil(minSize / 2)));
      length = n;
      let hash = 0;
      for (let i = minSize; i < n; i++) {
        hash = ((hash >>> 1) + table[data[start + i]!]!) >>> 0;
        if ((hash & (i < center ? maskS : maskL)) === 0) {
          length = i + 1;
          break;
        }
      }
    }
    lengths.push(length);
    start += length;
  }
  return lengths;
}

describe("optimised scan against a literal transcription of the rule", () => {
  const sizeSets: ChunkSizes[] = [
    { minSize: 64, avgSize: 256, maxSize: 1024 },
    { minSize: 100, avgSize: 300, maxSize: 1100 },
    { minSize: 1000, avgSize: 1500, maxSize: 5000 },
    { minSize: 4096, avgSize: 16384, maxSize: 65536 },
  ];
  const random = atticFakeData(3 * MiB).subarray(MiB);
  for (const sizes of sizeSets) {
    it(`${sizes.minSize}/${sizes.avgSize}/${sizes.maxSize} at byte offsets 0..3`, async () => {
      const length = Math.min(random.length, 200 * sizes.maxSize);
      const expected = referenceLengths(random.subarray(0, length), sizes);
      expect(expected.length).toBeGreaterThan(20);
      for (let offset = 0; offset < 4; offset++) {
        const shifted = new Uint8Array(length + 4);
        shifted.set(random.subarray(0, length), offset);
        const window = shifted.subarray(offset, offset + length);
        expect(chunkLengths(window, sizes), `offset ${offset}`).toEqual(expected);
      }
      expect(await streamedLengths(sizes, sliced(random.subarray(0, length), ODD_SLICES))).toEqual(expected);
    });
  }
});

describe("cut rule details", () => {
  it("all-zero input cuts at max-size (fastcdc crate test: 10240 zeros, 64/256/1024)", () => {
    expect(chunkLengths(new Uint8Array(10240), { minSize: 64, avgSize: 256, maxSize: 1024 })).toEqual(Array(10).fill(1024));
  });

  it("Attic's 16K/64K/256K template: strict region ends at 40 KiB, masks of 17 and 15 bits", () => {
    const p = cutParameters({ minSize: 16384, avgSize: 65536, maxSize: 262144 });
    expect(p.centerSize).toBe(40 * 1024);
    expect(p.maskS).toBe(2 ** 17 - 1);
    expect(p.maskL).toBe(2 ** 15 - 1);
  });

  it("rounds log2(avg-size) to the nearest integer (fastcdc 4.0.1)", () => {
    const bitsOf = (avgSize: number): number => Math.log2(cutParameters({ minSize: 64, avgSize, maxSize: 1 << 20 }).maskS + 1) - 1;
    expect(bitsOf(1500)).toBe(11);
    expect(bitsOf(12288)).toBe(14);
    expect(bitsOf(24576)).toBe(15);
    expect(bitsOf(1100)).toBe(10);
  });

  it("a strict region that ends before min-size is skipped (min = avg)", () => {
    const p = cutParameters({ minSize: 4096, avgSize: 4096, maxSize: 16384 });
    expect(p.centerSize).toBe(0);
    const lengths = chunkLengths(atticFakeData(256 * 1024), { minSize: 4096, avgSize: 4096, maxSize: 16384 });
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(256 * 1024);
    expect(lengths.slice(0, -1).every((l) => l > 4096 && l <= 16384)).toBe(true);
  });
});

describe("chunks copied into a caller's buffers (options.allocate)", () => {
  it("places every chunk in the allocator's array, with the bytes and cuts of the golden vector", async () => {
    const vector = golden.vectors.find((v) => v.input === "SekienAkashita.jpg")!;
    const bytes = input(vector.input);
    const handedOut = new Set<Uint8Array>();
    // Reuses one buffer per length class as soon as the previous chunk was checked, as the
    // engine's pool does: a chunker that read a yielded array back would see it overwritten.
    const recycled = new Map<number, ArrayBuffer>();
    const allocate = (length: number) => {
      const buffer = recycled.get(length) ?? new ArrayBuffer(length);
      recycled.set(length, buffer);
      const out = new Uint8Array(buffer, 0, length);
      handedOut.add(out);
      return out;
    };
    let offset = 0;
    const lengths: number[] = [];
    for await (const chunk of new FastCdcChunker(vector).chunk(sliced(bytes, ODD_SLICES), { allocate })) {
      expect(handedOut.has(chunk)).toBe(true);
      expect(Buffer.from(chunk).equals(Buffer.from(bytes.subarray(offset, offset + chunk.length)))).toBe(true);
      offset += chunk.length;
      lengths.push(chunk.length);
      chunk.fill(0xa5);
    }
    expect(lengths).toEqual(vector.chunkLengths);
  });
});
