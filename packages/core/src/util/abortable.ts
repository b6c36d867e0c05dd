// Shared by storage plugins: a write must stop at once when its request is aborted.
/**
 * Iterates `body`, but rejects with the signal's reason as soon as it aborts, even while the
 * source is stalled waiting for network input; the source is then told to stop (`return()`).
 */
export async function* abortable(body: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  if (!signal) {
    yield* body;
    return;
  }
  const iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in body ? body[Symbol.asyncIterator]() : (body as Iterable<Uint8Array>)[Symbol.iterator]();
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  let finished = false;
  try {
    for (;;) {
      signal.throwIfAborted();
      const next = Promise.resolve(iterator.next());
      next.catch(() => undefined); // abandoned after an abort; its late failure is not ours to report
      const step = await Promise.race([next, aborted]);
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    // Not awaited: a stalled source may never settle, and the caller must not wait for it.
    if (!finished) Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}

/**
 * Waits for `work`, but rejects with the signal's reason as soon as it aborts. `work` itself
 * goes on (others may be waiting for it); only this wait ends. The listener is removed either way.
 */
export async function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    // Abandoned before this wait began (starting `work` may itself have aborted the signal):
    // its later failure is not this wait's to report, and would otherwise go unhandled.
    work.catch(() => undefined);
    signal.throwIfAborted();
  }
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * `iterator.next()`, rejected as soon as `signal` aborts even while the source is stalled (a slow
 * client upload), so an abort never waits for the next chunk to arrive. Once aborted, `next()` is
 * not called at all.
 */
export async function nextUntilAborted<T>(iterator: AsyncIterator<T>, signal: AbortSignal | undefined): Promise<IteratorResult<T>> {
  signal?.throwIfAborted();
  return untilAborted(iterator.next(), signal);
}
