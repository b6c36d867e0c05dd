/**
 * Shares one flush among every caller that asks while it has not yet started. A caller must be
 * covered by a flush that starts after its request (its writes may have finished after a running
 * flush began), so a request during a flush waits for the next one, which serves every request
 * made meanwhile. At most one flush runs and one waits.
 *
 * Flushes start at least `minIntervalMs` apart: each costs a fixed amount (local-fs: a process
 * start, 1-7 ms of CPU on the project's VM) whatever it covers, so on storage that flushes at
 * once (tmpfs, a fast SSD) back-to-back flushes would spend that many times a second.
 */
export class CoalescedFlush {
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  /** When the last flush started (performance.now()), or -Infinity. */
  #lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly flush: () => Promise<void>,
    private readonly minIntervalMs = 0,
  ) {}

  /** Resolves once a flush that started after this call has succeeded; rejects with its failure. */
  request(): Promise<void> {
    this.#next ??= (this.#running ?? Promise.resolve()).then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  async #startNext(): Promise<void> {
    const wait = this.#lastStart + this.minIntervalMs - performance.now();
    // Requests made during this wait join this flush: `#next` is still set.
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    this.#next = undefined;
    this.#lastStart = performance.now();
    const run = this.flush().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}
