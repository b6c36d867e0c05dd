// The one implementation of the benchmarks' NAR bytes, in plain JavaScript so that both the
// TypeScript benchmarks (keystream.ts) and plain-node helpers (keystream-pipe.mjs) use it.
import { createCipheriv } from "node:crypto";

/**
 * Deterministic incompressible bytes at several GB/s: the AES-128-CTR keystream of a key made
 * from `seed`, in blocks of `blockSize`. Each block differs, so neither NAR- nor chunk-level
 * dedup can shortcut a benchmark.
 * @param {number} totalBytes
 * @param {number} [blockSize]
 * @param {number} [seed]
 * @returns {Generator<Buffer>}
 */
export function* keystreamBlocks(totalBytes, blockSize = 1024 * 1024, seed = 1) {
  const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, seed), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(blockSize);
  for (let done = 0; done < totalBytes; done += blockSize) {
    const n = Math.min(blockSize, totalBytes - done);
    yield cipher.update(n === blockSize ? zeros : zeros.subarray(0, n));
  }
}
