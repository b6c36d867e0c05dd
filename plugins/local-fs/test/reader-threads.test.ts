import { runScript } from "../../../test/helpers/child-script.ts";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GroupSizeMismatch, ReadFailure, ReaderThreads, ReaderThreadsClosedError } from "../src/reader-threads.ts";

let dir: string;
const files: Array<{ path: string; size: number; bytes: Buffer }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "attic-ts-readers-"));
  for (const [i, size] of [0, 1, 4096, 65_537, 200_000].entries()) {
    const bytes = randomBytes(size);
    const path = join(dir, `f${i}`);
    await writeFile(path, bytes);
    files.push({ path, size, bytes });
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ReaderThreads", () => {
  it("reads groups of files concatenated, on up to `threads` threads, many at once", async () => {
    const readers = new ReaderThreads({ threads: 2 });
    try {
      const groups = Array.from({ length: 40 }, (_, i) => [files[i % 5]!, files[(i + 2) % 5]!, files[(i + 4) % 5]!]);
      const answers = await Promise.all(groups.map((group) => readers.read(group.map(({ path, size }) => ({ path, size })))));
      for (const [i, answer] of answers.entries()) expect(answer.equals(Buffer.concat(groups[i]!.map((f) => f.bytes)))).toBe(true);
      expect(readers.threadCount).toBe(2);
    } finally {
      await readers.close();
    }
  });

  it("sends reads asked for in one turn two to a message, before the next thread gets any", async () => {
    const readers = new ReaderThreads({ threads: 2 });
    const posted = vi.spyOn(Worker.prototype, "postMessage");
    try {
      const asked = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => readers.read([{ path: files[i % 5]!.path, size: files[i % 5]!.size }])));
      // A pair: one message, one thread.
      const pair = await asked(2);
      expect(pair.map((answer) => answer.length)).toEqual([files[0]!.size, files[1]!.size]);
      expect(posted.mock.calls.map(([reads]) => (reads as unknown[]).length)).toEqual([2]);
      expect(readers.threadCount).toBe(1);
      // Two pairs in one turn: one message per thread, two reads each.
      posted.mockClear();
      await asked(4);
      expect(posted.mock.calls.map(([reads]) => (reads as unknown[]).length)).toEqual([2, 2]);
      expect(readers.threadCount).toBe(2);
    } finally {
      posted.mockRestore();
      await readers.close();
    }
  });

  it("reads into shared memory it is given, and into its own otherwise", async () => {
    const readers = new ReaderThreads({ threads: 1 });
    try {
      const group = [files[2]!, files[3]!].map(({ path, size }) => ({ path, size }));
      const expected = Buffer.concat([files[2]!.bytes, files[3]!.bytes]);
      const shared = new Uint8Array(new SharedArrayBuffer(100_000), 8);
      const answer = await readers.read(group, undefined, shared);
      expect(answer.buffer).toBe(shared.buffer);
      expect(answer.byteOffset).toBe(8);
      expect(answer.equals(expected)).toBe(true);
      // Too small, or not shared: other memory, same bytes; the given memory is untouched.
      for (const into of [new Uint8Array(new SharedArrayBuffer(100)), new Uint8Array(100_000)]) {
        const other = await readers.read(group, undefined, into);
        expect(other.buffer).not.toBe(into.buffer);
        expect(other.equals(expected)).toBe(true);
        expect(into.every((b) => b === 0)).toBe(true);
      }
    } finally {
      await readers.close();
    }
  });

  it("names the file that is missing or holds another size", async () => {
    const readers = new ReaderThreads({ threads: 1 });
    try {
      const good = { path: files[2]!.path, size: files[2]!.size };
      const missing = await readers.read([good, { path: join(dir, "nope"), size: 3 }]).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ReadFailure);
      expect(missing).toMatchObject({ code: "ENOENT", index: 1 });
      for (const [size, found] of [
        [4095, 4096],
        [4097, 4096],
        [0, 1],
      ] as const) {
        const err = await readers.read([good, { path: files[2]!.path, size }]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(GroupSizeMismatch);
        expect(err).toMatchObject({ index: 1, expected: size, found });
      }
      const directory = await readers.read([{ path: dir, size: 10 }]).catch((e: unknown) => e);
      expect(directory).toMatchObject({ code: "EISDIR", index: 0 });
    } finally {
      await readers.close();
    }
  });

  it("rejects an aborted read at once, and keeps serving others", async () => {
    const readers = new ReaderThreads({ threads: 1 });
    try {
      const group = [{ path: files[4]!.path, size: files[4]!.size }];
      const before = new AbortController();
      before.abort(new Error("gone before"));
      await expect(readers.read(group, before.signal)).rejects.toThrow("gone before");
      const during = new AbortController();
      const reading = readers.read(group, during.signal);
      during.abort(new Error("gone during"));
      await expect(reading).rejects.toThrow("gone during");
      expect((await readers.read(group)).equals(files[4]!.bytes)).toBe(true);
    } finally {
      await readers.close();
    }
  });

  it("fails the reads of a thread that dies, and starts a new one for the next read", async () => {
    const script = join(dir, "dying-worker.mjs");
    await writeFile(script, `import { parentPort } from "node:worker_threads";\nparentPort.on("message", () => process.exit(3));\n`);
    const readers = new ReaderThreads({ threads: 1, workerUrl: pathToFileURL(script) });
    try {
      const group = [{ path: files[1]!.path, size: 1 }];
      for (let i = 0; i < 2; i++) {
        await expect(readers.read(group)).rejects.toThrow("A local storage reader thread exited with code 3.");
        expect(readers.threadCount).toBe(0);
      }
    } finally {
      await readers.close();
    }
  });

  it("close() fails the reads still running and refuses new ones", async () => {
    const readers = new ReaderThreads({ threads: 1 });
    const running = readers.read([{ path: files[4]!.path, size: files[4]!.size }]).catch((e: unknown) => e);
    await readers.close();
    expect(await running).toBeInstanceOf(ReaderThreadsClosedError);
    await expect(readers.read([{ path: files[1]!.path, size: 1 }])).rejects.toBeInstanceOf(ReaderThreadsClosedError);
    expect(readers.threadCount).toBe(0);
  });

  it("keeps the process alive only while a read runs", async () => {
    // A child awaits one read with nothing else pending and never closes the threads: the read
    // must complete (busy threads are ref'd) and the process must then exit (idle ones are not).
    const moduleUrl = pathToFileURL(fileURLToPath(new URL("../src/reader-threads.ts", import.meta.url))).href;
    const script = join(dir, "child.mts");
    await writeFile(
      script,
      `import { ReaderThreads } from ${JSON.stringify(moduleUrl)};\n` +
        `const bytes = await new ReaderThreads().read([{ path: ${JSON.stringify(files[4]!.path)}, size: ${files[4]!.size} }]);\n` +
        `console.log("read", bytes.byteLength);\n`,
    );
    const result = await runScript(script);
    expect(result.stdout).toBe(`read ${files[4]!.size}\n`);
    expect(result.code).toBe(0);
  });
});
