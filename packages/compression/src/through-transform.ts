import { Readable, pipeline } from "node:stream";
import type { Transform } from "node:stream";

/** Non-empty chunks as Buffers (views, no copies): some native transforms accept only Buffers. */
async function* asBuffers(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    if (chunk.byteLength === 0) continue;
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/**
 * Streams `source` through a Node transform (zlib, zstd, liblzma) with backpressure. A source
 * error or an abort destroys the pipeline and is thrown from the iteration; a consumer that stops
 * early destroys the transform and releases the source.
 */
export async function* throughTransform(
  source: AsyncIterable<Uint8Array>,
  makeTransform: () => Transform,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  signal?.throwIfAborted();
  // Created on first read, so a result that is never iterated holds no native codec state.
  const transform = makeTransform();
  const input = Readable.from(asBuffers(source), { objectMode: false });
  // Errors surface through the iteration of `transform` below (pipeline destroys it with them).
  pipeline(input, transform, () => {});
  const onAbort = (): void => {
    transform.destroy(signal?.reason as Error);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of transform as AsyncIterable<Buffer>) yield chunk;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
