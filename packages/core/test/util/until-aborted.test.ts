import { describe, expect, it } from "vitest";
import { nextUntilAborted, untilAborted } from "../../src/util/abortable.ts";

describe("untilAborted", () => {
  it("answers the work's result, or its failure", async () => {
    await expect(untilAborted(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error("failed")), new AbortController().signal)).rejects.toThrow("failed");
    await expect(untilAborted(Promise.resolve(8), undefined)).resolves.toBe(8);
  });

  it("rejects with the reason once the signal aborts, and leaves the work running", async () => {
    const controller = new AbortController();
    let finish!: (value: number) => void;
    const work = new Promise<number>((resolve) => (finish = resolve));
    const waiting = untilAborted(work, controller.signal);
    controller.abort(new Error("client went away"));
    await expect(waiting).rejects.toThrow("client went away");
    finish(9);
    await expect(work).resolves.toBe(9);
  });

  it("rejects at once for an already aborted signal", async () => {
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    await expect(untilAborted(new Promise(() => undefined), controller.signal)).rejects.toThrow("too late");
  });

  it("leaves no unhandled rejection when the work fails after an abort that came first", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      // Starting the work aborts the signal, as a source aborting its own request does.
      const work = (async () => {
        controller.abort(new Error("request aborted"));
        await new Promise((r) => setTimeout(r, 1));
        throw new Error("source failed");
      })();
      await expect(untilAborted(work, controller.signal)).rejects.toThrow("request aborted");
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("removes its abort listener once the work settles", async () => {
    const controller = new AbortController();
    let added = 0;
    let removed = 0;
    const { signal } = controller;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => (added++, add(...args))) as typeof add;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => (removed++, remove(...args))) as typeof remove;
    for (let i = 0; i < 20; i++) await untilAborted(Promise.resolve(i), signal);
    expect(added).toBe(20);
    expect(removed).toBe(20);
  });
});

describe("nextUntilAborted", () => {
  it("answers the iterator's next step, or rejects with the reason once the signal aborts", async () => {
    const controller = new AbortController();
    let calls = 0;
    const stalled: AsyncIterator<number> = { next: () => (calls++, new Promise(() => undefined)) };
    const waiting = nextUntilAborted(stalled, controller.signal);
    controller.abort(new Error("client went away"));
    await expect(waiting).rejects.toThrow("client went away");
    // Once aborted, the source is not asked for another step.
    await expect(nextUntilAborted(stalled, controller.signal)).rejects.toThrow("client went away");
    expect(calls).toBe(1);
    const steps = [1, 2][Symbol.iterator]();
    const source: AsyncIterator<number> = { next: async () => steps.next() };
    await expect(nextUntilAborted(source, new AbortController().signal)).resolves.toEqual({ done: false, value: 1 });
    await expect(nextUntilAborted(source, undefined)).resolves.toEqual({ done: false, value: 2 });
  });
});
