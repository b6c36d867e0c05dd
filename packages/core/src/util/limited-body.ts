/**
 * Yields at most `limit` bytes of `source` (Attic reads `body.take(nar_size)`), then checks
 * whether the client sent more. Attic silently ignores extra bytes; we reject them, because a
 * body longer than its declared size means the client and server disagree about the NAR.
 *
 * The iterator is a plain object rather than a generator so that `return()` closes the source
 * at once, even while a read is pending: a generator queues it behind that read, and an upload
 * aborted by its signal while the body stalls would never close the body.
 */
export class LimitedBody implements AsyncIterable<Uint8Array> {
  /** Set once more than `limit` bytes were seen. */
  excess = false;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly limit: number,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const it = this.source[Symbol.asyncIterator]();
    let remaining = this.limit;
    let finished = false;
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await it.return?.();
    };
    const end = async (): Promise<IteratorResult<Uint8Array>> => {
      finished = true;
      await close();
      return { done: true, value: undefined };
    };
    const read = async (): Promise<IteratorResult<Uint8Array>> => {
      while (remaining > 0) {
        const next = await it.next();
        if (next.done) return end();
        const slice = next.value;
        if (slice.length > remaining) {
          this.excess = true;
          // The last bytes, then the end: the source is closed on the next pull.
          finished = true;
          const last = slice.subarray(0, remaining);
          remaining = 0;
          return { done: false, value: last };
        }
        remaining -= slice.length;
        if (slice.length > 0) return { done: false, value: slice };
      }
      // Exactly `limit` bytes so far: anything non-empty after them is excess.
      for (;;) {
        const next = await it.next();
        if (next.done) return end();
        if (next.value.length > 0) {
          this.excess = true;
          return end();
        }
      }
    };
    return {
      next: async () => {
        if (finished) return end();
        try {
          return await read();
        } catch (err) {
          finished = true;
          await close().catch(() => undefined);
          throw err;
        }
      },
      return: async () => end(),
    };
  }
}
