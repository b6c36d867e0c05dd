/**
 * Ordered start and stop hooks. Plugins register synchronously and put their async work
 * (connect, migrate, check a bucket) here; stop runs in reverse order of start.
 */
export class Lifecycle {
  readonly #starters: Array<() => Promise<void>> = [];
  readonly #stoppers: Array<() => Promise<void>> = [];
  #started = false;

  onStart(hook: () => Promise<void>): void {
    this.#starters.push(hook);
  }

  onStop(hook: () => Promise<void>): void {
    this.#stoppers.push(hook);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    for (const hook of this.#starters) await hook();
  }

  /** Runs every stop hook even when one fails; rethrows the first failure at the end. */
  async stop(): Promise<void> {
    let firstError: unknown;
    for (const hook of [...this.#stoppers].reverse()) {
      try {
        await hook();
      } catch (err) {
        firstError ??= err;
      }
    }
    this.#stoppers.length = 0;
    if (firstError !== undefined) throw firstError;
  }
}
