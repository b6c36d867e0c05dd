import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

/** Feeds `data` in slices whose sizes cycle through `sizes` (odd sizes cross every block boundary). */
export async function* slices(data: Uint8Array, sizes: readonly number[] = [1, 7, 4093, 65_537, 300_001]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let i = 0;
  while (offset < data.byteLength) {
    const size = sizes[i++ % sizes.length] as number;
    // Copies, as a network source would hand over fresh buffers.
    yield data.slice(offset, offset + size);
    offset += size;
  }
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** Text-like data: words from a small vocabulary in a seeded order, compressible but not trivially. */
export function textLike(length: number, seed = 1): Buffer {
  const words = "nix store path derivation hash narinfo chunk attic cache upload zstd lib share bin etc the of and".split(" ");
  const out = Buffer.alloc(length);
  let state = seed;
  let offset = 0;
  while (offset < length) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const word = words[state % words.length] as string;
    offset += out.write(state % 13 === 0 ? `${word}\n` : `${word} `, offset);
  }
  return out;
}

/** Multi-MiB test input: incompressible random bytes followed by text. */
export function mixedData(): Buffer {
  return Buffer.concat([randomBytes(2 * 1024 * 1024 + 12_345), textLike(3 * 1024 * 1024 + 777)]);
}

/** Runs a CLI with `input` on stdin and resolves with its stdout; rejects on a non-zero exit. */
export function runCli(command: string, args: readonly string[], input: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.on("error", () => {}); // the CLI may exit before reading everything (bad input)
    child.stdin.end(input);
  });
}

/** A source that yields `data` then throws `error`. */
export async function* failingSource(data: Uint8Array, error: Error): AsyncGenerator<Uint8Array> {
  yield data;
  throw error;
}

/** A source of endless text that counts the bytes handed out and notes when it was released. */
export function endlessSource(chunkSize = 64 * 1024): { source: AsyncGenerator<Uint8Array>; state: { read: number; released: boolean } } {
  const state = { read: 0, released: false };
  const chunk = textLike(chunkSize, 7);
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        await new Promise((r) => setImmediate(r));
        state.read += chunk.byteLength;
        yield chunk.slice();
      }
    } finally {
      state.released = true;
    }
  }
  return { source: gen(), state };
}

/** Polls `condition` until true or `timeoutMs` passes. */
export async function eventually(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
