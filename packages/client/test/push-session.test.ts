import { describe, expect, it } from "vitest";
import type { PathInfo } from "../src/nix/nix-cli.ts";
import type { PushPlan } from "../src/push/push-plan.ts";
import { PushSession } from "../src/push/push-session.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const path = (i: number, name = `p${i}`) => `/nix/store/${String(i).padStart(32, "a").replace(/[eotu]/g, "a")}-${name}`;
const info = (p: string): PathInfo => ({ path: p, narHash: "sha256-x", narSize: 1, references: [] });
const hashOf = (p: string) => p.slice(11, 43);

/** A session whose planner returns each root plus an optional fixed extra closure member. */
function harness(timing: { idleMs: number; maxMs: number }, closureExtra: string[] = [], failOn?: string) {
  const batches: string[][] = [];
  const pushed: string[] = [];
  const errors: unknown[] = [];
  const session = new PushSession(
    {
      plan: async (roots) => {
        batches.push([...roots]);
        if (failOn && roots.includes(failOn)) throw new Error("bad path");
        const paths = new Map<string, PathInfo>();
        for (const p of [...roots, ...closureExtra]) paths.set(hashOf(p), info(p));
        return { paths, numAll: paths.size, numAlreadyCached: 0, numUpstream: 0 } satisfies PushPlan;
      },
      push: (infos) => pushed.push(...infos.map((i) => i.path)),
      error: (err) => errors.push(err),
    },
    timing,
  );
  return { session, batches, pushed, errors };
}

describe("push session batching", () => {
  it("flushes one batch after the idle window", async () => {
    const h = harness({ idleMs: 60, maxMs: 10_000 });
    h.session.queue([path(1)]);
    await sleep(20);
    h.session.queue([path(2)]);
    await sleep(20);
    expect(h.batches).toEqual([]); // still within the idle window
    await sleep(120);
    expect(h.batches).toEqual([[path(1), path(2)]]);
    expect(h.pushed).toEqual([path(1), path(2)]);
  });

  it("flushes at the maximum window even while paths keep arriving", async () => {
    const h = harness({ idleMs: 200, maxMs: 300 });
    for (let i = 1; i <= 12; i++) {
      h.session.queue([path(i)]);
      await sleep(30);
    }
    // Paths never paused for 200 ms, so only the 300 ms cap can have flushed.
    expect(h.batches.length).toBeGreaterThanOrEqual(1);
    const first = h.batches[0]!;
    expect(first.length).toBeGreaterThan(1);
    expect(first.length).toBeLessThan(12);
    await h.session.close();
    expect(h.batches.flat()).toEqual(Array.from({ length: 12 }, (_, i) => path(i + 1)));
  });

  it("close() flushes what is pending without waiting for the windows", async () => {
    const h = harness({ idleMs: 5_000, maxMs: 10_000 });
    h.session.queue([path(1), path(2)]);
    const t = Date.now();
    await h.session.close();
    expect(Date.now() - t).toBeLessThan(1_000);
    expect(h.batches).toEqual([[path(1), path(2)]]);
  });

  it("never plans or pushes a path twice: known roots are skipped, known closure members filtered", async () => {
    const dep = path(99, "dep");
    const h = harness({ idleMs: 30, maxMs: 1_000 }, [dep]);
    h.session.queue([path(1), path(1)]);
    await sleep(80);
    h.session.queue([path(1), path(2)]);
    await sleep(80);
    h.session.queue([path(2), dep]);
    await h.session.close();
    expect(h.batches).toEqual([[path(1)], [path(2)]]); // the third batch had only known paths
    expect(h.pushed).toEqual([path(1), dep, path(2)]);
  });

  it("reports a failing batch and goes on with the next", async () => {
    const h = harness({ idleMs: 20, maxMs: 1_000 }, [], path(1));
    h.session.queue([path(1)]);
    await sleep(60);
    h.session.queue([path(2)]);
    await h.session.close();
    expect(h.errors).toHaveLength(1);
    expect(h.pushed).toEqual([path(2)]);
  });

  it("plans batches one at a time, in order", async () => {
    let active = 0;
    let maxActive = 0;
    const order: string[][] = [];
    const session = new PushSession(
      {
        plan: async (roots) => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(50);
          order.push(roots);
          active--;
          return { paths: new Map(), numAll: 0, numAlreadyCached: 0, numUpstream: 0 };
        },
        push: () => {},
        error: () => {},
      },
      { idleMs: 5, maxMs: 1_000 },
    );
    session.queue([path(1)]);
    await sleep(20);
    session.queue([path(2)]);
    await session.close();
    expect(maxActive).toBe(1);
    expect(order).toEqual([[path(1)], [path(2)]]);
  });
});
