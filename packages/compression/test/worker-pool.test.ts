import { runScript } from "../../../test/helpers/child-script.ts";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { decompress as zstdDecompress } from "zstd-napi";
import { WorkerPool, WorkerPoolClosedError, defaultWorkerUrl } from "../src/worker-pool.ts";
import { eventually, textLike } from "./helpers.ts";

const fixtureUrl = new URL("./fixtures/crashing-worker.mjs", import.meta.url);
const pools: WorkerPool[] = [];
function pool(options: ConstructorParameters<typeof WorkerPool>[0] = {}): WorkerPool {
  const created = new WorkerPool(options);
  pools.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

/** OS threads of this process (Linux): worker threads are real threads. */
function threadCount(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
}

describe("WorkerPool with the compress worker", () => {
  it("finds the worker script beside its sources", () => {
    const url = defaultWorkerUrl();
    expect(url.pathname.endsWith("/packages/compression/src/compress-worker.mjs")).toBe(true);
    expect(existsSync(fileURLToPath(url))).toBe(true);
  });

  it("compresses a zstd job whose output decodes", async () => {
    const data = textLike(500_000);
    const out = await pool({ size: 1 }).run({ type: "zstd", level: 8, data });
    expect(out.byteLength).toBeLessThan(data.byteLength / 3);
    expect(zstdDecompress(out).equals(data)).toBe(true);
  });

  it("moves the input buffer only when asked to", async () => {
    const p = pool({ size: 1, sharedBytes: 0 });
    const kept = new Uint8Array(textLike(10_000));
    await p.run({ type: "zstd", level: 3, data: kept });
    expect(kept.byteLength).toBe(10_000);
    const moved = new Uint8Array(textLike(10_000));
    await p.run({ type: "zstd", level: 3, data: moved }, { transfer: true });
    expect(moved.byteLength).toBe(0); // detached
  });

  it("passes small jobs through shared memory: same frames, input kept, results not mixed up", async () => {
    const shared = pool({ size: 2, sharedBytes: 64 * 1024 });
    const plain = pool({ size: 1, sharedBytes: 0 });
    // Sizes below, at and above the shared region, so both paths run side by side.
    const inputs = [1, 1000, 65_536, 65_537, 300_000, 20_000, 0].map((n, i) => new Uint8Array(textLike(n, i + 1)));
    const copies = inputs.map((d) => Buffer.from(d));
    const outs = await Promise.all(inputs.map((data) => shared.run({ type: "zstd", level: 8, data }, { transfer: true })));
    for (const [i, out] of outs.entries()) {
      expect(Buffer.from(zstdDecompress(out)).equals(copies[i]!)).toBe(true);
      expect(Buffer.from(out).equals(Buffer.from(await plain.run({ type: "zstd", level: 8, data: copies[i]! })))).toBe(true);
    }
    // Only the job too large for the shared region was moved out of the caller's hands.
    expect(inputs.map((d, i) => copies[i]!.byteLength > 0 && d.byteLength === 0)).toEqual([false, false, false, true, true, false, false]);
    const xz = await shared.run({ type: "xz", level: 1, data: textLike(50_000, 9) });
    expect(xz.byteLength).toBeGreaterThan(0);
    expect(xz.byteLength).toBeLessThan(50_000);
  });

  it("runs jobs in parallel on at most `size` workers, lazily started", async () => {
    const p = pool({ size: 2 });
    expect(p.workerCount).toBe(0);
    const inputs = Array.from({ length: 6 }, (_, i) => textLike(300_000, i + 1));
    const outs = await Promise.all(inputs.map((data) => p.run({ type: "xz", level: 2, data })));
    expect(p.workerCount).toBe(2);
    outs.forEach((out, i) => expect(out.byteLength).toBeLessThan((inputs[i] as Buffer).byteLength));
  });

  it("rejects a job the worker cannot do and keeps working", async () => {
    const p = pool({ size: 1 });
    await expect(p.run({ type: "lz4", level: 1, data: new Uint8Array(10) })).rejects.toThrow(/unsupported job type "lz4"/);
    await expect(p.run({ type: "xz", level: 99, data: new Uint8Array(10) })).rejects.toThrow();
    const out = await p.run({ type: "zstd", level: 1, data: textLike(1000) });
    expect(zstdDecompress(out).byteLength).toBe(1000);
  });
});

describe("WorkerPool failures, abort, bounds and close", () => {
  it("a crashing worker rejects its job and is replaced", async () => {
    const p = pool({ size: 1, workerUrl: fixtureUrl });
    await expect(p.run({ type: "crash", level: 0, data: new Uint8Array(1) })).rejects.toThrow("worker crashed on purpose");
    await expect(p.run({ type: "exit", level: 0, data: new Uint8Array(1) })).rejects.toThrow(/exited with code 3/);
    const echoed = await p.run({ type: "echo", level: 0, data: new Uint8Array([1, 2, 3]) });
    expect([...echoed]).toEqual([1, 2, 3]);
    expect(p.workerCount).toBe(1);
  });

  it("abort drops a queued job and answers a running one at once", async () => {
    const p = pool({ size: 1, workerUrl: fixtureUrl });
    const running = new AbortController();
    const first = p.run({ type: "slow", level: 400, data: new Uint8Array([1]) }, { signal: running.signal });
    const queued = new AbortController();
    const second = p.run({ type: "echo", level: 0, data: new Uint8Array([2]) }, { signal: queued.signal });
    await new Promise((r) => setTimeout(r, 20));
    expect(p.queuedCount).toBe(1);
    queued.abort(new Error("queued abort"));
    await expect(second).rejects.toThrow("queued abort");
    expect(p.queuedCount).toBe(0);
    const started = Date.now();
    running.abort(new Error("running abort"));
    await expect(first).rejects.toThrow("running abort");
    expect(Date.now() - started).toBeLessThan(200);
    expect(p.busyCount).toBe(1); // the worker finishes its job; the result is dropped
    await eventually(() => p.busyCount === 0);
    expect([...(await p.run({ type: "echo", level: 0, data: new Uint8Array([3]) }))]).toEqual([3]);
  });

  it("bounds its queue: callers beyond maxQueued wait for room", async () => {
    const p = pool({ size: 1, maxQueued: 2, workerUrl: fixtureUrl });
    let maxSeen = 0;
    const timer = setInterval(() => (maxSeen = Math.max(maxSeen, p.queuedCount)), 1);
    const jobs = Array.from({ length: 6 }, (_, i) => p.run({ type: "slow", level: 30, data: new Uint8Array([i]) }));
    await new Promise((r) => setTimeout(r, 5));
    expect(p.queuedCount).toBeLessThanOrEqual(2);
    const outs = await Promise.all(jobs);
    clearInterval(timer);
    expect(outs.map((o) => o[0])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(maxSeen).toBeLessThanOrEqual(2);
  });

  it("close terminates the workers and rejects pending and later jobs", async () => {
    const before = threadCount();
    const p = pool({ size: 2, workerUrl: fixtureUrl });
    const running = [1, 2].map((i) => p.run({ type: "slow", level: 5_000, data: new Uint8Array([i]) }));
    const queued = p.run({ type: "echo", level: 0, data: new Uint8Array([3]) });
    const outcomes = Promise.allSettled([...running, queued]);
    await eventually(() => threadCount() >= before + 2);
    await p.close();
    for (const outcome of await outcomes) {
      expect(outcome.status === "rejected" && outcome.reason).toBeInstanceOf(WorkerPoolClosedError);
    }
    await expect(p.run({ type: "echo", level: 0, data: new Uint8Array(1) })).rejects.toBeInstanceOf(WorkerPoolClosedError);
    expect(p.workerCount).toBe(0);
    await eventually(() => threadCount() <= before);
  });

  it("keeps the process alive only while a job runs", async () => {
    // A child process awaits one job with nothing else pending, then never closes the pool: the
    // job must complete (busy workers are ref'd) and the process must then exit (idle ones are not).
    const dir = await mkdtemp(join(tmpdir(), "attic-pool-"));
    const poolUrl = pathToFileURL(fileURLToPath(new URL("../src/worker-pool.ts", import.meta.url))).href;
    const script = join(dir, "child.mts");
    await writeFile(
      script,
      `import { WorkerPool } from ${JSON.stringify(poolUrl)};\n` +
        `const out = await new WorkerPool({ size: 1 }).run({ type: "zstd", level: 19, data: new Uint8Array(4_000_000) });\n` +
        `console.log("compressed", out.byteLength);\n`,
    );
    try {
      const result = await runScript(script);
      expect(result.stdout).toMatch(/^compressed \d+/);
      expect(result.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
