import { createHash } from "node:crypto";
import { keystreamBlocks } from "./keystream-blocks.mjs";

/** The benchmarks' incompressible NAR bytes (keystream-blocks.mjs) as an async source. */
export async function* keystream(totalBytes: number, blockSize = 1024 * 1024, seed = 1): AsyncGenerator<Uint8Array> {
  yield* keystreamBlocks(totalBytes, blockSize, seed);
}

export async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash("sha256");
  for await (const part of source) h.update(part);
  return `sha256:${h.digest("hex")}`;
}

export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}
