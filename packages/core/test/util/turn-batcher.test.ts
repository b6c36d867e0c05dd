import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { TurnBatcher } from "../../src/util/turn-batcher.ts";

/** A loader that records each call and answers `${group}:${key}` for every key. */
function recordingLoader() {
  const calls: Array<{ group: string; keys: string[] }> = [];
  const load = async (group: string, keys: readonly string[]) => {
    calls.push({ group, keys: [...keys] });
    return new Map(keys.map((k) => [k, `${group}:${k}`]));
  };
  return { calls, load };
}

describe("TurnBatcher", () => {
  it("loads the keys asked for in one turn with one call per group, each key once", async () => {
    const { calls, load } = recordingLoader();
    const batcher = new TurnBatcher(load);
    const answers = Promise.all([
      batcher.load("a", "1"),
      batcher.load("b", "1"),
      batcher.load("a", "2"),
      batcher.load("a", "1"),
    ]);
    expect(calls).toEqual([]); // nothing goes out before the turn ends
    expect(await answers).toEqual(["a:1", "b:1", "a:2", "a:1"]);
    expect(calls).toEqual([
      { group: "a", keys: ["1", "2"] },
      { group: "b", keys: ["1"] },
    ]);
  });

  it("sends what arrives in a later turn as a new batch", async () => {
    const { calls, load } = recordingLoader();
    const batcher = new TurnBatcher(load);
    const first = batcher.load("a", "1");
    await nextTurn();
    const second = batcher.load("a", "2");
    expect(await Promise.all([first, second])).toEqual(["a:1", "a:2"]);
    expect(calls.map((c) => c.keys)).toEqual([["1"], ["2"]]);
  });

  it("splits a group's keys into calls of at most maxKeys", async () => {
    const { calls, load } = recordingLoader();
    const batcher = new TurnBatcher(load, 3);
    const keys = ["1", "2", "3", "4", "5", "6", "7"];
    expect(await Promise.all(keys.map((k) => batcher.load("g", k)))).toEqual(keys.map((k) => `g:${k}`));
    expect(calls.map((c) => c.keys)).toEqual([["1", "2", "3"], ["4", "5", "6"], ["7"]]);
  });

  it("rejects every waiter of a failed call, and only those", async () => {
    const batcher = new TurnBatcher<string>(async (group, keys) => {
      if (group === "bad") throw new Error("database down");
      return new Map(keys.map((k) => [k, k]));
    });
    const results = await Promise.allSettled([batcher.load("bad", "1"), batcher.load("bad", "1"), batcher.load("good", "2")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "fulfilled"]);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error("database down"));
  });

  it("rejects a key the loader left out instead of leaving its caller waiting", async () => {
    const batcher = new TurnBatcher<string>(async () => new Map([["1", "one"]]));
    const [one, two] = await Promise.allSettled([batcher.load("g", "1"), batcher.load("g", "2")]);
    expect(one).toEqual({ status: "fulfilled", value: "one" });
    expect((two as PromiseRejectedResult).reason.message).toMatch(/no entry for "2"/);
  });

  it("passes undefined and null answers through", async () => {
    const batcher = new TurnBatcher<string | null | undefined>(async (_, keys) => new Map(keys.map((k) => [k, k === "n" ? null : undefined])));
    expect(await Promise.all([batcher.load("g", "n"), batcher.load("g", "u")])).toEqual([null, undefined]);
  });
});
