import { describe, expect, it } from "vitest";
import type { Repositories } from "../../src/database/database.ts";
import { UnmarkedChunks, type StoredChunkFile } from "../../src/services/unmarked-chunks.ts";

/** Records the files `markChunksValid` is given; the rest of a transaction is not used. */
function recordingTx(): { tx: Repositories; marked: number[] } {
  const marked: number[] = [];
  const tx = { chunks: { markChunksValid: async (files: StoredChunkFile[]) => void marked.push(...files.map((f) => f.id)) } } as unknown as Repositories;
  return { tx, marked };
}

const file = (id: number): StoredChunkFile => ({ id, fileHash: `sha256:${id}`, fileSize: id });

function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("UnmarkedChunks", () => {
  it("takes files without a flush at once", async () => {
    const unmarked = new UnmarkedChunks();
    unmarked.add(file(1));
    unmarked.add(file(2));
    const { tx, marked } = recordingTx();
    await unmarked.take().mark(tx);
    expect(marked).toEqual([1, 2]);
  });

  it("leaves files whose flush is pending for a later take, and takes them once it resolved", async () => {
    const unmarked = new UnmarkedChunks();
    const flush = deferred();
    unmarked.add(file(1));
    unmarked.add(file(2), undefined, flush.promise);
    unmarked.add(file(3), undefined, flush.promise);
    const first = recordingTx();
    await unmarked.take().mark(first.tx);
    expect(first.marked).toEqual([1]);
    flush.resolve();
    await unmarked.whenDurable();
    const second = recordingTx();
    await unmarked.take().mark(second.tx);
    expect(second.marked).toEqual([2, 3]);
  });

  it("whenDurable waits for every flush, including ones added while it waits", async () => {
    const unmarked = new UnmarkedChunks();
    const a = deferred();
    const b = deferred();
    unmarked.add(file(1), undefined, a.promise);
    let done = false;
    const waiting = unmarked.whenDurable().then(() => (done = true));
    unmarked.add(file(2), undefined, b.promise);
    a.resolve();
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    b.resolve();
    await waiting;
    const { tx, marked } = recordingTx();
    await unmarked.take().mark(tx);
    expect(marked).toEqual([1, 2]);
  });

  it("a failed flush fails whenDurable and every later take, and its files are never marked", async () => {
    const unmarked = new UnmarkedChunks();
    const flush = deferred();
    unmarked.add(file(1), undefined, flush.promise);
    flush.reject(new Error("flush failed"));
    await expect(unmarked.whenDurable()).rejects.toThrow("flush failed");
    expect(() => unmarked.take()).toThrow("flush failed");
  });

  it("restore queues the taken files again; committed runs their callbacks", async () => {
    const unmarked = new UnmarkedChunks();
    const valid: number[] = [];
    unmarked.add(file(1), () => valid.push(1));
    const taken = unmarked.take();
    taken.restore();
    const again = unmarked.take();
    const { tx, marked } = recordingTx();
    await again.mark(tx);
    again.committed();
    expect(marked).toEqual([1]);
    expect(valid).toEqual([1]);
  });
});
