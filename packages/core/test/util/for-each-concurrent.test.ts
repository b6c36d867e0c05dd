import { describe, expect, it } from "vitest";
import { forEachConcurrent } from "../../src/util/for-each-concurrent.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("forEachConcurrent", () => {
  it("visits every item once with at most `limit` calls in flight", async () => {
    const seen: number[] = [];
    let inFlight = 0;
    let most = 0;
    await forEachConcurrent([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await tick();
      seen.push(n);
      inFlight--;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it("rejects with the first failure once the started calls settled, and starts no more", async () => {
    const started: number[] = [];
    let settled = 0;
    const err = await forEachConcurrent([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      await tick();
      settled++;
      if (n === 2) throw new Error("boom");
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("boom");
    expect(settled).toBe(started.length);
    expect(started.length).toBeLessThan(6);
  });

  it("does nothing for no items and refuses a limit below 1", async () => {
    await forEachConcurrent([], 2, async () => expect.unreachable());
    await expect(forEachConcurrent([1], 0, async () => undefined)).rejects.toThrow(RangeError);
  });
});
