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

describe("BufferPool reuse across size classes", () => {
  it("serves a length from a free buffer of a larger class, up to twice the length", () => {
    const pool = new BufferPool(1 << 20, 1 << 20);
    const big = pool.take(100_000); // class 114,688
    pool.give(big);
    // 60,000 (class 61,440) may use a buffer of up to 120,000 bytes: the free 114,688 one.
    const reused = pool.take(60_000);
    expect(reused.buffer).toBe(big.buffer);
    expect(reused.byteLength).toBe(60_000);
    expect(pool.freeBytes).toBe(0);
    pool.give(reused);
    // Given back, it returns to its own class (114,688), not the length's.
    expect(pool.freeBytes).toBe(114_688);
    // 50,000 may use at most 100,000 bytes: the free buffer is too large for it.
    expect(pool.take(50_000).buffer).not.toBe(big.buffer);
    expect(pool.freeBytes).toBe(114_688);
  });

  it("prefers the length's own class, then the smallest larger one", () => {
    const pool = new BufferPool(1 << 20, 1 << 20);
    const own = pool.take(64_000); // class 65,536
    const larger = pool.take(70_000); // class 73,728
    const largest = pool.take(100_000); // class 114,688
    for (const a of [largest, larger, own]) pool.give(a);
    expect(pool.take(64_000).buffer).toBe(own.buffer);
    expect(pool.take(64_000).buffer).toBe(larger.buffer);
    expect(pool.take(64_000).buffer).toBe(largest.buffer);
  });

  it("makes few new buffers once warm, however the lengths of a working set vary", () => {
    // Chunk-like lengths in batches lent and given back, as an upload does; every buffer the
    // pool ever made is remembered, so a fresh allocation shows up as a new ArrayBuffer.
    const pool = new BufferPool(1 << 20, 4 << 20);
    const seen = new Set<ArrayBufferLike>();
    let seed = 7;
    const nextLength = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return 16_384 + (seed % (256 * 1024 - 16_384));
    };
    const round = () => {
      const batch = Array.from({ length: 16 }, () => pool.take(nextLength()));
      for (const a of batch) seen.add(a.buffer);
      for (const a of batch) pool.give(a);
    };
    for (let i = 0; i < 20; i++) round();
    const warmed = seen.size;
    for (let i = 0; i < 200; i++) round();
    // Larger classes fill the gaps: 28 buffers made in 3,200 takes after warming up. With
    // exact classes only, this loop made 393.
    expect(seen.size - warmed).toBeLessThan(60);
  });
});
