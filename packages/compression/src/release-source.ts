/** Asks a source we stop reading early to release its resources, without waiting for it. */
export function releaseSource(iterator: AsyncIterator<unknown>): void {
  try {
    iterator.return?.().catch(() => {});
  } catch {
    // A source that throws from return() has nothing left for us to release.
  }
}
