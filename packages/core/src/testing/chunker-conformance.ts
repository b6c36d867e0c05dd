import { describe, expect, it } from "vitest";
import type { Chunker, ChunkSizes } from "../chunking/chunker.ts";
import { collect, seededRandomBytes, sliced } from "./fixtures.ts";

export interface ChunkerConformanceOptions {
  /** Builds the chunker under test for the given sizes (bytes). */
  create: (sizes: ChunkSizes) => Chunker | Promise<Chunker>;
  /** Sizes to test with; defaults to 1 KiB / 4 KiB / 16 KiB, so the data yields many chunks. */
  sizes?: ChunkSizes;
  /** Bytes of random data for the multi-chunk cases; defaults to max(384 KiB, 6 × maxSize). */
  dataLength?: number;
}

const DEFAULT_SIZES: ChunkSizes = { minSize: 1024, avgSize: 4096, maxSize: 16384 };

async function chunksOf(chunker: Chunker, source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of chunker.chunk(source)) chunks.push(chunk);
  return chunks;
}

/** Byte equality that stays fast on MiB-sized arrays (`toEqual` walks them element by element). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  expect(i === actual.length ? "identical" : `first difference at byte ${i}`, what).toBe("identical");
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Registers the cases every `Chunker` must pass: lossless, size bounds, cut points independent
 * of how the source is sliced, caller-owned chunks, and cancellation through `AbortSignal`.
 */
export function describeChunkerConformance(name: string, options: ChunkerConformanceOptions): void {
  const sizes = options.sizes ?? DEFAULT_SIZES;
  const { minSize, avgSize, maxSize } = sizes;
  const dataLength = options.dataLength ?? Math.max(384 * 1024, 6 * maxSize);
  const data = seededRandomBytes(0x5eed ^ maxSize, dataLength);
  const create = async (): Promise<Chunker> => options.create(sizes);

  describe(`Chunker conformance: ${name} (${minSize}/${avgSize}/${maxSize})`, () => {
    it("reports the sizes it was created with", async () => {
      const chunker = await create();
      expect(chunker.sizes).toEqual(sizes);
    });

    it("yields no chunk for empty input, also when the source has empty slices", async () => {
      const chunker = await create();
      expect(await chunksOf(chunker, sliced(new Uint8Array(0), 1))).toEqual([]);
      expect(await chunksOf(chunker, (async function* () { yield new Uint8Array(0); yield new Uint8Array(0); })())).toEqual([]);
    });

    it("yields input shorter than min-size as one chunk", async () => {
      const chunker = await create();
      const tiny = data.subarray(0, Math.min(10, minSize - 1));
      const chunks = await chunksOf(chunker, sliced(tiny, 3));
      expect(chunks).toHaveLength(1);
      expect(chunks[0]).toEqual(tiny);
    });

    it("reproduces the input when the chunks are concatenated", async () => {
      const chunker = await create();
      const chunks = await chunksOf(chunker, sliced(data, 65536));
      expect(chunks.length).toBeGreaterThan(1);
      expectSameBytes(concat(chunks), data, "concatenated chunks");
      expectSameBytes(await collect(chunker.chunk(sliced(data, 4096))), data, "concatenated chunks, 4 KiB slices");
    });

    it("keeps every chunk within [min-size, max-size], the last within (0, max-size]", async () => {
      const chunker = await create();
      const inputs = [data, new Uint8Array(dataLength), data.subarray(0, maxSize * 2 + minSize + 1)];
      for (const input of inputs) {
        const lengths = (await chunksOf(chunker, sliced(input, 65536))).map((c) => c.length);
        expect(lengths.reduce((a, b) => a + b, 0)).toBe(input.length);
        const last = lengths.pop()!;
        expect(last).toBeGreaterThan(0);
        expect(last).toBeLessThanOrEqual(maxSize);
        for (const length of lengths) {
          expect(length).toBeGreaterThanOrEqual(minSize);
          expect(length).toBeLessThanOrEqual(maxSize);
        }
      }
      // Data with no structure should be cut by content, not only at max-size.
      const randomLengths = (await chunksOf(chunker, sliced(data, 65536))).map((c) => c.length);
      expect(randomLengths.some((l) => l < maxSize)).toBe(true);
    });

    it("cuts at the same points however the source is sliced", async () => {
      const chunker = await create();
      const reference = (await chunksOf(chunker, sliced(data, data.length))).map((c) => c.length);
      const patterns: (number | number[])[] = [1, 7, 1024 * 1024, [0, 1, 4093, 65536, 3, 0, maxSize + 1, 17, 250_000]];
      for (const pattern of patterns) {
        const lengths = (await chunksOf(chunker, sliced(data, pattern))).map((c) => c.length);
        expect(lengths, `slice pattern ${String(pattern)}`).toEqual(reference);
      }
    });

    it("yields chunks the caller owns: kept chunks stay intact, mutated chunks affect nothing", async () => {
      const chunker = await create();
      const kept = await chunksOf(chunker, sliced(data, 5000));
      expectSameBytes(concat(kept), data, "chunks kept until the end");

      const snapshots: Uint8Array[] = [];
      for await (const chunk of chunker.chunk(sliced(data, 5000))) {
        snapshots.push(chunk.slice());
        chunk.fill(0xa5);
      }
      expectSameBytes(concat(snapshots), data, "snapshots of chunks overwritten on receipt");
    });

    it("reads a source slice only until it pulls the next one (the engine reuses slice memory)", async () => {
      const chunker = await create();
      for (const pattern of [5000, maxSize + 3, [1, 70_000, 9, maxSize * 2 + 1, 4096]] as (number | number[])[]) {
        // Each slice is a copy that is overwritten as soon as the chunker asks for the next one.
        const reused = (async function* () {
          let previous: Uint8Array | undefined;
          for await (const slice of sliced(data, pattern)) {
            previous?.fill(0x5a);
            previous = slice.slice();
            yield previous;
          }
          previous?.fill(0x5a);
        })();
        const chunks = await chunksOf(chunker, reused);
        expectSameBytes(concat(chunks), data, `chunks of overwritten slices, pattern ${String(pattern)}`);
      }
    });

    it("throws the signal's reason when aborted before or during iteration", async () => {
      const chunker = await create();
      const before = new AbortController();
      const reason = new Error("stop before");
      before.abort(reason);
      await expect(collect(chunker.chunk(sliced(data, 4096), { signal: before.signal }))).rejects.toBe(reason);

      const during = new AbortController();
      const reasonDuring = new Error("stop during");
      let seen = 0;
      const run = async (): Promise<void> => {
        for await (const _chunk of chunker.chunk(sliced(data, 4096), { signal: during.signal })) {
          seen++;
          if (seen === 1) during.abort(reasonDuring);
        }
      };
      await expect(run()).rejects.toBe(reasonDuring);
      expect(seen).toBe(1);
    });

    it("closes the source when the consumer stops early", async () => {
      const chunker = await create();
      let closed = false;
      const source = (async function* () {
        try {
          yield* sliced(data, 4096);
        } finally {
          closed = true;
        }
      })();
      for await (const _chunk of chunker.chunk(source)) break;
      expect(closed).toBe(true);
    });
  });
}
