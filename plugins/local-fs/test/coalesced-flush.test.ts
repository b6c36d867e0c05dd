import { describe, expect, it } from "vitest";
import { CoalescedFlush } from "../src/coalesced-flush.ts";

/** A flush whose runs the test finishes by hand. */
function manualFlush() {
  const runs: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  const flush = new CoalescedFlush(
    () =>
      new Promise<void>((resolve, reject) => {
        runs.push({ resolve, reject });
      }),
  );
  return { flush, runs };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("CoalescedFlush", () => {
  it("starts a flush at once when none runs", async () => {
    const { flush, runs } = manualFlush();
    const done = flush.request();
    await tick();
    expect(runs).toHaveLength(1);
    runs[0]!.resolve();
    await expect(done).resolves.toBeUndefined();
  });

  it("serves every request made during a flush with one more flush, started after it", async () => {
    const { flush, runs } = manualFlush();
    const first = flush.request();
    await tick();
    const a = flush.request();
    const b = flush.request();
    // The running flush may have begun before a's and b's writes: they wait for the next one.
    await tick();
    expect(runs).toHaveLength(1);
    let aSettled = false;
    void a.then(() => (aSettled = true));
    runs[0]!.resolve();
    await first;
    await tick();
    expect(aSettled).toBe(false);
    expect(runs).toHaveLength(2);
    runs[1]!.resolve();
    await Promise.all([a, b]);
    expect(runs).toHaveLength(2);
  });

  it("rejects the requests a failed flush served, and the next request runs a new flush", async () => {
    const { flush, runs } = manualFlush();
    const first = flush.request();
    await tick();
    const queued = flush.request();
    runs[0]!.reject(new Error("disk on fire"));
    await expect(first).rejects.toThrow("disk on fire");
    await tick();
    // The queued request is served by a flush started after the failure.
    expect(runs).toHaveLength(2);
    runs[1]!.reject(new Error("still on fire"));
    await expect(queued).rejects.toThrow("still on fire");
    const later = flush.request();
    await tick();
    expect(runs).toHaveLength(3);
    runs[2]!.resolve();
    await expect(later).resolves.toBeUndefined();
  });

  it("runs at most one flush at a time", async () => {
    let running = 0;
    let most = 0;
    const flush = new CoalescedFlush(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    });
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i % 7));
      await flush.request();
    }));
    expect(most).toBe(1);
  });

  it("starts flushes at least the minimum interval apart; requests meanwhile share the next", async () => {
    const starts: number[] = [];
    const flush = new CoalescedFlush(async () => void starts.push(performance.now()), 40);
    await flush.request();
    const waiting = [flush.request(), flush.request()];
    await new Promise((r) => setTimeout(r, 10));
    waiting.push(flush.request());
    await Promise.all(waiting);
    expect(starts).toHaveLength(2);
    // Timers may fire a little early or late; 40 ms apart at most a millisecond or so sooner.
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(38);
  });
});
