import { Readable } from "node:stream";
import type { BlobStore } from "../storage/blob-store.ts";
import type { RemoteFile } from "../storage/remote-file.ts";
import { StorageError } from "../errors.ts";

/** Opens a stored file as a stream (never a redirect URL). */
export async function openStream(store: BlobStore, ref: RemoteFile, signal?: AbortSignal): Promise<Readable> {
  const download = await store.open(ref, { preferStream: true, ...(signal ? { signal } : {}) });
  if (download.kind !== "stream") throw new StorageError("storage answered a URL where a stream was required");
  return download.stream;
}

/**
 * Concatenates stored chunk files in order, opening up to `prefetch` files ahead of the one
 * being read (Attic's `merge_chunks`). Destroying the result, or a failure, closes every
 * stream opened so far; a failure is emitted as a stream error, never as a clean end, so a
 * client can't mistake a truncated NAR for a complete one.
 */
export function concatChunkStreams(
  store: BlobStore,
  refs: readonly RemoteFile[],
  prefetch: number,
  signal?: AbortSignal,
): Readable {
  const opened: Array<Promise<Readable>> = [];
  let next = 0;
  const openMore = (upTo: number) => {
    while (next < refs.length && next <= upTo) {
      const p = openStream(store, refs[next]!, signal);
      p.then(
        // A stream opened ahead has no reader yet: when the client goes away, the abort signal
        // errors it, and an 'error' with no listener would crash the process. The error is not
        // lost: iterating an errored stream throws it when (if ever) its turn comes.
        (stream) => stream.on("error", () => {}),
        () => {}, // observed when its turn comes; avoids an unhandled rejection meanwhile
      );
      opened.push(p);
      next++;
    }
  };

  async function* generate(): AsyncGenerator<Uint8Array> {
    let current = 0;
    try {
      for (; current < refs.length; current++) {
        openMore(current + prefetch);
        const stream = await opened[current]!;
        for await (const piece of stream) yield piece as Uint8Array;
      }
    } finally {
      // Close whatever was opened ahead and not consumed (early destroy or error).
      for (let i = current; i < opened.length; i++) {
        opened[i]!.then((s) => s.destroy(), () => {});
      }
    }
  }

  return Readable.from(generate(), { objectMode: false });
}
