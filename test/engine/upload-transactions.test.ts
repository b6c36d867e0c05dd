import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BATCH_SIZE, UploadLeaseLostError, UploadSession, noopLogger, type Database } from "@attic-ts/core";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";
import { collect, pseudoRandomBytes, slices } from "../helpers/data.ts";
import { createCache, ROOT, snapshot, startTestEngine, TEST_DBS, type TestEngine } from "../helpers/engine.ts";

// How many database transactions an upload costs. On SQLite each one queues for the single
// writer, and their number, not the bytes, bounded ingest speed: a chunked upload costs one to
// begin (lease, NAR lookup, pending NAR), one per batch of chunks (find-and-lock, insert, and
// marking the previous batches' chunks valid) and one to commit (lease check, the rest marked
// valid, NAR, object, lease closed). Checked by counting, since a timing would be noise.

const CHUNKING = { "nar-size-threshold": 65536, "min-size": 4096, "avg-size": 16384, "max-size": 65536 };

/** Full batches of DEFAULT_BATCH_SIZE chunks and the rest, as `UploadService` cuts a body that never stalls. */
function batchesFor(chunks: number): number {
  return Math.ceil(chunks / DEFAULT_BATCH_SIZE);
}

/** Chunk rows of any state (pending ones included). */
async function chunkRows(t: TestEngine): Promise<number> {
  return Number((await t.inspect("chunk").count({ n: "*" }))[0]!.n);
}

/** Counts `db.transaction` calls until the returned function is called. */
function countTransactions(db: Database): () => number {
  const original = db.transaction.bind(db);
  let calls = 0;
  db.transaction = (fn) => {
    calls++;
    return original(fn);
  };
  return () => {
    db.transaction = original;
    return calls;
  };
}

let bigPath: string;
let smallPath: string;
let otherPath: string;

beforeAll(async () => {
  bigPath = await addFiles("tx-count-big", { "data.bin": pseudoRandomBytes(71, 1_500_000) });
  smallPath = await addFiles("tx-count-small", { "data.bin": pseudoRandomBytes(72, 20_000) });
  otherPath = await addFiles("tx-stall-other", { "data.bin": pseudoRandomBytes(73, 1_500_000) });
});

describe.each(TEST_DBS)("transactions per upload (%s)", (db) => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine({ compression: { type: "zstd" }, chunking: CHUNKING }, { db });
    // Batches are counted as for a body that never stalls, however busy the machine running it.
    t.engine.uploads.stallFlushMs = 60_000;
    await createCache(t.engine, "tx");
  });
  afterAll(async () => t?.close());

  it("chunked: one to begin, one per batch, one to commit; every chunk valid and unheld after", async () => {
    const stop = countTransactions(t.engine.database);
    const result = await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("tx", bigPath), dumpNar(bigPath));
    const transactions = stop();
    expect(result.kind).toBe("Uploaded");
    const nar = await t.inspect("nar").first("num_chunks");
    const chunks = Number(nar!.num_chunks);
    expect(chunks).toBeGreaterThan(40);
    expect(transactions).toBe(2 + batchesFor(chunks));
    // The last batches' chunks were marked valid by the commit; nothing is left held.
    expect((await snapshot(t)).pendingOrHeld).toBe(0);
    expect(Number((await t.inspect("attic_ts_lease").count({ n: "*" }))[0]!.n)).toBe(0);
  });

  it("whole NAR: begin, claim of the one chunk, commit", async () => {
    const stop = countTransactions(t.engine.database);
    const result = await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("tx", smallPath), dumpNar(smallPath));
    expect(stop()).toBe(3);
    expect(result.kind).toBe("Uploaded");
    expect((await snapshot(t)).pendingOrHeld).toBe(0);
  });

  it("a NAR already stored: begin (lease and lookup) only, then the object", async () => {
    const stop = countTransactions(t.engine.database);
    const result = await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("tx", smallPath), dumpNar(smallPath));
    expect(stop()).toBe(1);
    expect(result.kind).toBe("Deduplicated");
    expect((await snapshot(t)).pendingOrHeld).toBe(0);
  });
});

describe("a client that stalls mid-upload (sqlite)", () => {
  let t: TestEngine;
  beforeAll(async () => {
    t = await startTestEngine({ compression: { type: "zstd" }, chunking: CHUNKING });
    await createCache(t.engine, "stall");
  });
  afterAll(async () => t?.close());

  /** Uploads `path`'s NAR, pausing after its first 200 KB until `during` resolves. */
  async function uploadPausing(path: string, during: () => Promise<void>): Promise<string> {
    const nar = await collect(dumpNar(path));
    async function* pausing(): AsyncGenerator<Uint8Array> {
      yield nar.subarray(0, 200_000);
      await during();
      yield nar.subarray(200_000);
    }
    return (await t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("stall", path), pausing())).kind;
  }

  it("stores the chunks cut so far while the body waits, and the NAR is whole after", async () => {
    t.engine.uploads.stallFlushMs = 20;
    let storedWhilePaused = 0;
    const kind = await uploadPausing(bigPath, async () => {
      for (let waited = 0; waited < 5000 && storedWhilePaused === 0; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        storedWhilePaused = await chunkRows(t);
      }
    });
    expect(kind).toBe("Uploaded");
    // 200 KB cut at an average of 16 KiB: several chunks, all stored before the rest was sent.
    expect(storedWhilePaused).toBeGreaterThan(3);
    const { pendingOrHeld } = await snapshot(t);
    expect(pendingOrHeld).toBe(0);
  });

  it("holds a partial batch while chunks keep coming within stallFlushMs", async () => {
    t.engine.uploads.stallFlushMs = 60_000;
    const before = await chunkRows(t);
    let storedWhilePaused = -1;
    const kind = await uploadPausing(otherPath, async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      storedWhilePaused = (await chunkRows(t)) - before;
    });
    expect(kind).toBe("Uploaded");
    expect(storedWhilePaused).toBe(0);
  });
});

describe.each(TEST_DBS)("an upload whose lease garbage collection reclaimed (%s)", (db) => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine({ compression: { type: "zstd" }, chunking: CHUNKING }, { db });
    await createCache(t.engine, "lost");
  });
  afterAll(async () => t?.close());
  afterEach(async () => expect(Number((await t.inspect("attic_ts_lease").count({ n: "*" }))[0]!.n)).toBe(0));

  /** Reaps every lease, as a collector would once they had expired. */
  const reapAll = () => t.engine.database.gc.reapExpiredLeases(new Date(Date.now() + 3_600_000), 100);

  it("commits nothing: the commit finds the lease gone and runs none of its work", async () => {
    const session = new UploadSession(t.engine.database, t.engine.storage, noopLogger);
    const { existing } = await session.begin(`sha256:${"1".repeat(64)}`);
    expect(existing).toBeNull();
    expect((await reapAll()).leases).toBe(1);
    let ran = false;
    await expect(
      session.commit(async () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(UploadLeaseLostError);
    expect(ran).toBe(false);
    await session.abandon();
  });

  it("fails mid-upload and leaves the database and storage as they were", async () => {
    const before = await snapshot(t);
    const nar = await collect(dumpNar(bigPath));
    async function* reapedHalfway(): AsyncGenerator<Uint8Array> {
      let sent = 0;
      for await (const slice of slices(nar, 65536)) {
        // On Postgres the collector skips a lease a claim is using at that moment: try again.
        if (sent < nar.length / 2 && sent + slice.length >= nar.length / 2) {
          while ((await reapAll()).leases === 0) await new Promise((r) => setTimeout(r, 5));
        }
        sent += slice.length;
        yield slice;
      }
    }
    await expect(t.engine.uploads.uploadPath(ROOT, await uploadInfoFor("lost", bigPath), reapedHalfway())).rejects.toThrow();
    expect(await snapshot(t)).toEqual(before);
  });
});
