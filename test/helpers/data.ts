import { createHash } from "node:crypto";
import type { UploadPathNarInfo } from "@attic-ts/core";

/** Deterministic incompressible bytes (xorshift32), so NARs are reproducible across runs. */
export function pseudoRandomBytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of source) parts.push(p);
  return Buffer.concat(parts);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function* slices(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, Math.min(bytes.length, i + size));
}

/**
 * Attic's upload info for NAR bytes made up by a test (the server checks their hash and size,
 * not the NAR format): no references, no signatures, stored as `/nix/store/{hash}-{name}`.
 */
export function uploadInfoOfBytes(cache: string, storePathHash: string, name: string, nar: Uint8Array): UploadPathNarInfo {
  return {
    cache,
    store_path_hash: storePathHash,
    store_path: `/nix/store/${storePathHash}-${name}`,
    references: [],
    system: null,
    deriver: null,
    sigs: [],
    ca: null,
    nar_hash: `sha256:${sha256Hex(nar)}`,
    nar_size: nar.length,
  };
}
