/**
 * Fixed-size buffers over shared memory, lent out and given back: where a NAR download's chunk
 * groups are read into and sent from. Every fresh ArrayBuffer counts towards V8's external
 * memory, and each 64 MiB of it set off a full collection, which marks the whole heap: a
 * download paid one per 64 MiB served, and they halved its rate (BENCHMARKS.md, thirteenth
 * pass). A slot that comes back is reused, so a download in steady state allocates nothing.
 *
 * Shared memory, so a reader thread can fill a slot without it being moved (a moved
 * ArrayBuffer comes back as another object, and the pool would no longer know it).
 *
 * Only give back a slot nothing reads or writes any more: the next `take` hands it out again.
 * A slot never given back is collected as usual.
 */
export class SlotPool {
  readonly #free: SharedArrayBuffer[] = [];
  readonly #lent = new WeakSet<SharedArrayBuffer>();

  /**
   * @param slotBytes - the size of every slot, bytes.
   * @param maxFreeSlots - slots kept for reuse at most; one given back beyond it is dropped.
   */
  constructor(
    readonly slotBytes: number,
    readonly maxFreeSlots: number,
  ) {
    if (!Number.isSafeInteger(slotBytes) || slotBytes < 1) throw new Error(`Invalid slot size ${slotBytes}.`);
  }

  /** A whole slot, its bytes left from its last use. */
  take(): Uint8Array {
    const slot = this.#free.pop() ?? new SharedArrayBuffer(this.slotBytes);
    this.#lent.add(slot);
    return new Uint8Array(slot);
  }

  /**
   * Takes back the slot `bytes` is a view of, for reuse; answers whether it was one this pool
   * lent (anything else, or a slot given back twice, is left alone).
   */
  give(bytes: Uint8Array): boolean {
    const slot = bytes.buffer;
    if (!(slot instanceof SharedArrayBuffer) || !this.#lent.delete(slot)) return false;
    if (this.#free.length < this.maxFreeSlots) this.#free.push(slot);
    return true;
  }

  /** Slots held for reuse. */
  get freeSlots(): number {
    return this.#free.length;
  }
}
