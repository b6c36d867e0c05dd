/**
 * `iterator.next()`, rejected as soon as `signal` aborts even when the source is stalled (a slow
 * client upload), so an abort never waits for the next chunk to arrive.
 */
export function abortableNext<T>(iterator: AsyncIterator<T>, signal: AbortSignal | undefined): Promise<IteratorResult<T>> {
  if (signal === undefined) return iterator.next();
  signal.throwIfAborted();
  return new Promise<IteratorResult<T>>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** Asks a source we stop reading early to release its resources, without waiting for it. */
export function releaseSource(iterator: AsyncIterator<unknown>): void {
  try {
    iterator.return?.().catch(() => {});
  } catch {
    // A source that throws from return() has nothing left for us to release.
  }
}
