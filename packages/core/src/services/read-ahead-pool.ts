/**
 * Read-ahead bytes shared by all downloads of a process, so what many downloads at once hold
 * is bounded by one setting, while a lone download may use up to its own limit.
 */
export class ReadAheadPool {
  #free: number;

  /** @param bytes the total, bytes */
  constructor(readonly bytes: number) {
    this.#free = bytes;
  }

  /** Takes `n` bytes if that many are free. */
  tryTake(n: number): boolean {
    if (n > this.#free) return false;
    this.#free -= n;
    return true;
  }

  /** Returns `n` bytes taken before. */
  give(n: number): void {
    this.#free += n;
  }

  /** Bytes not taken right now. */
  get free(): number {
    return this.#free;
  }
}
