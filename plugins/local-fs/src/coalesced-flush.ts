/**
 * Shares one flush among every caller that asks while it has not yet started. A caller must be
 * covered by a flush that starts after its request (its writes may have finished after a running
 * flush began), so a request during a flush waits for the next one, which starts when that ends
 * and serves every request made meanwhile. At most one flush runs and one waits.
 */
export class CoalescedFlush {
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once a flush that started after this call has succeeded; rejects with its failure. */
  request(): Promise<void> {
    if (this.#running === undefined) return this.#start();
    this.#next ??= this.#running.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  #startNext(): Promise<void> {
    this.#next = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    const run = this.flush().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}
