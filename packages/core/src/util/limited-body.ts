/**
 * Yields at most `limit` bytes of `source` (Attic reads `body.take(nar_size)`), then checks
 * whether the client sent more. Attic silently ignores extra bytes; we reject them, because a
 * body longer than its declared size means the client and server disagree about the NAR.
 */
export class LimitedBody implements AsyncIterable<Uint8Array> {
  /** Set once more than `limit` bytes were seen. */
  excess = false;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly limit: number,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const it = this.source[Symbol.asyncIterator]();
    let remaining = this.limit;
    try {
      while (remaining > 0) {
        const next = await it.next();
        if (next.done) return;
        const slice = next.value;
        if (slice.length > remaining) {
          this.excess = true;
          yield slice.subarray(0, remaining);
          return;
        }
        remaining -= slice.length;
        if (slice.length > 0) yield slice;
      }
      // Exactly `limit` bytes so far: anything non-empty after them is excess.
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        if (next.value.length > 0) {
          this.excess = true;
          return;
        }
      }
    } finally {
      await it.return?.();
    }
  }
}
