import { describe, expect, it } from "vitest";
import { trackedSource } from "../../src/testing/fixtures.ts";
import { BufferPool } from "../../src/util/buffer-pool.ts";
import { lentSlices } from "../../src/util/lent-slices.ts";

async function* of(...slices: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* slices;
}

describe("lentSlices", () => {
  it("yields pooled copies with the source's bytes, each given back when the next is pulled", async () => {
    const pool = new BufferPool(1 << 20, 1 << 20);
    const a = Buffer.alloc(65536, 1);
    const b = Buffer.alloc(65536, 2);
    const iterator = lentSlices(of(a, b), pool);
    const first = (await iterator.next()).value as Uint8Array;
    expect(first).not.toBe(a);
    expect(Buffer.from(first).equals(a)).toBe(true);
    expect(pool.freeBytes).toBe(0);
    const second = (await iterator.next()).value as Uint8Array;
    // The first copy's buffer came back and was lent again for the second slice.
    expect(second.buffer).toBe(first.buffer);
    expect(Buffer.from(second).equals(b)).toBe(true);
    expect((await iterator.next()).done).toBe(true);
    expect(pool.freeBytes).toBe(65536);
  });

  it("passes slices longer than the pool serves through uncopied", async () => {
    const pool = new BufferPool(1000, 1 << 20);
    const big = Buffer.alloc(5000, 3);
    const out: Uint8Array[] = [];
    for await (const slice of lentSlices(of(big), pool)) out.push(slice);
    expect(out).toEqual([big]);
    expect(out[0]).toBe(big);
  });

  it("keeps the slice in use when the consumer stops early", async () => {
    const pool = new BufferPool(1 << 20, 1 << 20);
    let kept: Uint8Array | undefined;
    for await (const slice of lentSlices(of(Buffer.alloc(4096, 1), Buffer.alloc(4096, 2)), pool)) {
      kept = slice;
      break;
    }
    expect(pool.freeBytes).toBe(0);
    expect(pool.take(4096).buffer).not.toBe(kept!.buffer);
  });

  it("closes the source at once on return(), even while a read is still pending", async () => {
    const stalled = trackedSource([], { stall: true });
    const iterator = lentSlices(stalled.source, new BufferPool(1 << 20, 1 << 20));
    void iterator.next();
    // Not awaited: a generator would never settle it, queued behind the stalled read.
    void iterator.return!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stalled.closed).toBe(true);
  });
});
