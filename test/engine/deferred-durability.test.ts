import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError, type BlobStore, type IoOptions } from "@attic-ts/core";
import { LocalBlobStore } from "@attic-ts/storage-local-fs";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";
import { pseudoRandomBytes } from "../helpers/data.ts";
import { createCache, ROOT, snapshot, startTestEngine, TEST_DBS, type TestEngine } from "../helpers/engine.ts";

// Chunk files written with `deferSync` (local-fs with `sync = "filesystem"`) are made
// durable by the store's `syncWrites`, one flush for many files. The engine must mark a chunk
// row valid only after the flush covering its file has succeeded, and commit no NAR before
// every one of its chunks is; a failed flush fails the upload and leaves nothing behind. The
// store here is the real local-fs store; only `syncWrites` is held back or made to fail.

const CHUNKING = { "nar-size-threshold": 65536, "min-size": 4096, "avg-size": 16384, "max-size": 65536 };

let path: string;
beforeAll(async () => {
  path = await addFiles("deferred-durability", { "data.bin": pseudoRandomBytes(81, 1_200_000) });
});

/** Replaces the store's `syncWrites` until the returned function restores it. */
function interceptSync(store: BlobStore, replacement: (original: (o?: IoOptions) => Promise<void>, o?: IoOptions) => Promise<void>): () => void {
  const original = store.syncWrites!.bind(store);
  store.syncWrites = (o) => replacement(original, o);
  return () => {
    store.syncWrites = original;
  };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(TEST_DBS)("chunk files flushed in batches (%s)", (db) => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine({ chunking: CHUNKING }, { db, localSync: "filesystem" });
    await createCache(t.engine, "durable");
  });
  afterAll(async () => t?.close());

  it("local-fs flushes the filesystem here", () => {
    // Otherwise the cases below would test nothing: with `file` sync every write is fsynced.
    expect((t.engine.storage as LocalBlobStore).syncMode).toBe("filesystem");
  });

  it("marks no chunk valid and commits no NAR before the flush covering its file has succeeded", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let requests = 0;
    const restore = interceptSync(t.engine.storage, async (original, o) => {
      requests++;
      await gate;
      return original(o);
    });
    try {
      const upload = t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("durable", path), dumpNar(path));
      upload.catch(() => undefined);
      // Every chunk is stored (its row inserted, its file written) and the upload waits at its
      // commit: the chunk rows stop growing. (No file walk while files are being renamed.)
      const count = async (table: string, valid = false) =>
        Number((await (valid ? t.inspect(table).where("state", "V") : t.inspect(table)).count({ n: "*" }))[0]!.n);
      let last = -1;
      await until(async () => {
        const now = await count("chunk");
        const settled = requests > 0 && now > 40 && now === last;
        last = now;
        await new Promise((r) => setTimeout(r, 150));
        return settled;
      }, "the chunks to be stored");
      expect(await count("chunk", true)).toBe(0);
      expect(await count("nar", true)).toBe(0);
      expect(await count("object")).toBe(0);
      release();
      expect((await upload).kind).toBe("Uploaded");
      const after = await snapshot(t);
      expect(after.pendingOrHeld).toBe(0);
      expect(after.object).toBe(1);
      // One flush per batch at most, not one per chunk.
      expect(requests).toBeLessThan(after.chunk / 4);
    } finally {
      release();
      restore();
    }
  });

  it("fails the upload when a flush fails, and leaves the database and storage as they were", async () => {
    const other = await addFiles("deferred-durability-fail", { "data.bin": pseudoRandomBytes(82, 900_000) });
    const before = await snapshot(t);
    const restore = interceptSync(t.engine.storage, async () => {
      throw new StorageError("Local storage could not flush to disk: test failure");
    });
    try {
      await expect(t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("durable", other), dumpNar(other))).rejects.toThrow(/could not flush/);
    } finally {
      restore();
    }
    expect(await snapshot(t)).toEqual(before);
  });
});
