import { createCipheriv, createHash } from "node:crypto";

/**
 * Deterministic incompressible bytes at several GB/s: the AES-128-CTR keystream of a fixed key.
 * Each block differs, so neither NAR- nor chunk-level dedup can shortcut a benchmark.
 */
export async function* keystream(totalBytes: number, blockSize = 1024 * 1024, seed = 1): AsyncGenerator<Uint8Array> {
  const key = Buffer.alloc(16, seed);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(blockSize);
  for (let done = 0; done < totalBytes; done += blockSize) {
    const n = Math.min(blockSize, totalBytes - done);
    yield cipher.update(n === blockSize ? zeros : zeros.subarray(0, n));
  }
}

export async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash("sha256");
  for await (const part of source) h.update(part);
  return `sha256:${h.digest("hex")}`;
}

export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}
