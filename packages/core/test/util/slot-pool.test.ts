import { describe, expect, it } from "vitest";
import { SlotPool } from "../../src/util/slot-pool.ts";

describe("SlotPool", () => {
  it("lends whole slots of shared memory and reuses the ones given back", () => {
    const pool = new SlotPool(1000, 4);
    const a = pool.take();
    expect(a.byteLength).toBe(1000);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    const b = pool.take();
    expect(b.buffer).not.toBe(a.buffer);
    // A view of part of the slot (what a stream pushed) gives the whole slot back.
    expect(pool.give(Buffer.from(a.buffer, 10, 20))).toBe(true);
    expect(pool.freeSlots).toBe(1);
    expect(pool.take().buffer).toBe(a.buffer);
    expect(pool.freeSlots).toBe(0);
  });

  it("ignores what it did not lend and slots given back twice", () => {
    const pool = new SlotPool(100, 4);
    expect(pool.give(new Uint8Array(100))).toBe(false);
    expect(pool.give(new Uint8Array(new SharedArrayBuffer(100)))).toBe(false);
    const slot = pool.take();
    expect(pool.give(slot)).toBe(true);
    expect(pool.give(slot)).toBe(false);
    expect(pool.freeSlots).toBe(1);
    // Handed out again, then given back once more: it was lent anew, so that counts.
    expect(pool.take().buffer).toBe(slot.buffer);
    expect(pool.give(slot)).toBe(true);
  });

  it("keeps at most maxFreeSlots for reuse", () => {
    const pool = new SlotPool(10, 2);
    const slots = [pool.take(), pool.take(), pool.take()];
    for (const slot of slots) expect(pool.give(slot)).toBe(true);
    expect(pool.freeSlots).toBe(2);
  });

  it("refuses a slot size that is not a positive integer", () => {
    expect(() => new SlotPool(0, 1)).toThrow("Invalid slot size 0.");
    expect(() => new SlotPool(1.5, 1)).toThrow();
  });
});
