import { describe, expect, it } from "vitest";
import { BufferPool, pooledSize } from "../../src/util/buffer-pool.ts";

describe("pooledSize", () => {
  it("rounds up to a quarter step between powers of two, at least 4 KiB", () => {
    expect(pooledSize(1)).toBe(4096);
    expect(pooledSize(4096)).toBe(4096);
    expect(pooledSize(4097)).toBe(5120);
    expect(pooledSize(65536)).toBe(65536);
    expect(pooledSize(65537)).toBe(81920);
    expect(pooledSize(100_000)).toBe(114688);
    expect(pooledSize(262144)).toBe(262144);
  });

  it("never wastes more than a quarter of a buffer above 4 KiB", () => {
    for (let n = 4097; n < 3_000_000; n += 7919) {
      const size = pooledSize(n);
      expect(size).toBeGreaterThanOrEqual(n);
      expect((size - n) / size).toBeLessThan(0.25);
    }
  });
});

describe("BufferPool", () => {
  it("lends arrays of exactly the length asked, and reuses a buffer given back", () => {
    const pool = new BufferPool(1 << 20, 1 << 20);
    const a = pool.take(60_000);
    expect(a.byteLength).toBe(60_000);
    a.fill(7);
    pool.give(a);
    expect(pool.freeBytes).toBe(pooledSize(60_000));
    const b = pool.take(59_000);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteLength).toBe(59_000);
    expect(pool.freeBytes).toBe(0);
    // A different size class gets another buffer.
    expect(pool.take(200_000).buffer).not.toBe(a.buffer);
  });

  it("ignores arrays it did not lend, and a second give of the same buffer", () => {
    const pool = new BufferPool(1 << 20, 1 << 20);
    pool.give(new Uint8Array(65536));
    pool.give(Buffer.allocUnsafeSlow(65536));
    expect(pool.freeBytes).toBe(0);
    const a = pool.take(65536);
    pool.give(a);
    pool.give(a);
    expect(pool.freeBytes).toBe(65536);
    // Lent once more, it cannot be handed to two takers.
    const b = pool.take(65536);
    const c = pool.take(65536);
    expect(b.buffer).toBe(a.buffer);
    expect(c.buffer).not.toBe(a.buffer);
  });

  it("does not keep more than maxFreeBytes, and serves lengths above maxLength unpooled", () => {
    const pool = new BufferPool(100_000, 150_000);
    const lent = [pool.take(65536), pool.take(65536), pool.take(65536)];
    for (const a of lent) pool.give(a);
    expect(pool.freeBytes).toBe(131072);
    const big = pool.take(200_000);
    expect(big.byteLength).toBe(200_000);
    pool.give(big);
    expect(pool.freeBytes).toBe(131072);
  });

  it("drops a buffer that was moved to another thread (detached) instead of reusing it", () => {
    const pool = new BufferPool(1 << 20, 1 << 20);
    const a = pool.take(8192);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    expect(a.buffer.byteLength).toBe(0);
    pool.give(a);
    expect(pool.freeBytes).toBe(0);
  });
});
