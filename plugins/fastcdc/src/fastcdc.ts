import type { ChunkSizes } from "@attic-ts/core";
import { GEAR_TABLE } from "./gear-table.ts";

/**
 * Precomputed parameters of the ronomon FastCDC cut rule for one set of chunk sizes.
 * All sizes are in bytes.
 */
export interface CutParameters {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
  /**
   * Window offset where the strict mask gives way to the loose one, before clamping to the
   * window length: `avg - min(avg, min + ceil(min / 2))`. This is ronomon's own formula (not
   * the FastCDC paper's `avg`); with 16 KiB / 64 KiB / 256 KiB it is 40 KiB.
   */
  readonly centerSize: number;
  /** Strict mask, `2^(bits+1) - 1` with `bits = round(log2(avg))`: used below `centerSize`. */
  readonly maskS: number;
  /** Loose mask, `2^(bits-1) - 1`: used from `centerSize` up to the window end. */
  readonly maskL: number;
}

/** Derives the masks and the strict/loose boundary from the chunk sizes (not validated here). */
export function cutParameters(sizes: ChunkSizes): CutParameters {
  const { minSize, avgSize, maxSize } = sizes;
  // Rounded, not floored: fastcdc 4.0.1 picks the mask whose target is closest to `avg`.
  const bits = Math.round(Math.log2(avgSize));
  return {
    minSize,
    avgSize,
    maxSize,
    centerSize: avgSize - Math.min(avgSize, minSize + Math.ceil(minSize / 2)),
    maskS: 2 ** (bits + 1) - 1,
    maskL: 2 ** (bits - 1) - 1,
  };
}

/**
 * Finds the end of the next chunk in `buf[start, end)`.
 *
 * @param eof - true when no bytes follow `end` in the stream.
 * @returns the chunk length in bytes, or 0 when the window cannot be decided yet (fewer than
 *   `maxSize` bytes and no cut found before the end, and not at end of input) — the caller
 *   must append more data and call again from the same `start`. An empty window also gives 0.
 *   The result never depends on bytes beyond `start + maxSize`, so slicing cannot move a cut.
 */
export function findCutPoint(buf: Uint8Array, start: number, end: number, eof: boolean, p: CutParameters): number {
  let n = end - start;
  const minSize = p.minSize;
  if (n <= minSize) return eof ? n : 0;
  const maxSize = p.maxSize;
  if (n > maxSize) n = maxSize;
  const center = p.centerSize < n ? p.centerSize : n;
  const cut = gearScan(buf, start + minSize, start + center, start + n, p.maskS, p.maskL);
  if (cut >= 0) return cut - start;
  return !eof && n < maxSize ? 0 : n;
}

/**
 * The hot loop: feeds `buf[from..end)` into the gear hash (reset to 0 at `from`) and returns the
 * index just past the first byte where `hash & mask == 0`, using `maskS` while the byte's index is
 * below `strictEnd` and `maskL` after; -1 when there is no cut before `end`.
 *
 * The hash stays an int32: `(hash >>> 1)` reads it as unsigned and halves it, the table values
 * are 31-bit, and `| 0` wraps the sum back to int32 with the same low 32 bits as Rust's u32
 * arithmetic (the true value never exceeds 2^32 - 1, so no information is lost). Both loops are
 * unrolled four ways; each step still tests its own hash, as the cut rule requires.
 */
function gearScan(buf: Uint8Array, from: number, strictEnd: number, end: number, maskS: number, maskL: number): number {
  const table = GEAR_TABLE;
  let hash = 0;
  let i = from;
  const strictStop = strictEnd < end ? strictEnd : end;
  for (; i + 4 <= strictStop; i += 4) {
    hash = ((hash >>> 1) + table[buf[i]!]!) | 0;
    if ((hash & maskS) === 0) return i + 1;
    hash = ((hash >>> 1) + table[buf[i + 1]!]!) | 0;
    if ((hash & maskS) === 0) return i + 2;
    hash = ((hash >>> 1) + table[buf[i + 2]!]!) | 0;
    if ((hash & maskS) === 0) return i + 3;
    hash = ((hash >>> 1) + table[buf[i + 3]!]!) | 0;
    if ((hash & maskS) === 0) return i + 4;
  }
  for (; i < strictStop; i++) {
    hash = ((hash >>> 1) + table[buf[i]!]!) | 0;
    if ((hash & maskS) === 0) return i + 1;
  }
  for (; i + 4 <= end; i += 4) {
    hash = ((hash >>> 1) + table[buf[i]!]!) | 0;
    if ((hash & maskL) === 0) return i + 1;
    hash = ((hash >>> 1) + table[buf[i + 1]!]!) | 0;
    if ((hash & maskL) === 0) return i + 2;
    hash = ((hash >>> 1) + table[buf[i + 2]!]!) | 0;
    if ((hash & maskL) === 0) return i + 3;
    hash = ((hash >>> 1) + table[buf[i + 3]!]!) | 0;
    if ((hash & maskL) === 0) return i + 4;
  }
  for (; i < end; i++) {
    hash = ((hash >>> 1) + table[buf[i]!]!) | 0;
    if ((hash & maskL) === 0) return i + 1;
  }
  return -1;
}

/**
 * Chunk lengths (bytes) of a whole in-memory input, as Attic's chunker would cut it. Meant for
 * tests and benchmarks; streaming callers use `FastCdcChunker`.
 */
export function chunkLengths(data: Uint8Array, sizes: ChunkSizes): number[] {
  const p = cutParameters(sizes);
  const lengths: number[] = [];
  let start = 0;
  while (start < data.length) {
    const length = findCutPoint(data, start, data.length, true, p);
    lengths.push(length);
    start += length;
  }
  return lengths;
}
