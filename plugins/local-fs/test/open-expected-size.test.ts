import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdtemp, rm, truncate, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { concatChunkStreams, StorageError } from "@attic-ts/core";
import type { RemoteFile } from "@attic-ts/core";
import { LocalBlobStore } from "../src/local-blob-store.ts";
import { WHOLE_READ_LIMIT } from "../src/local-blob-store.ts";

let dir: string;
let store: LocalBlobStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "attic-ts-local-open-"));
  store = new LocalBlobStore(join(dir, "storage"));
  await store.init();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function putBytes(bytes: Buffer): Promise<RemoteFile> {
  return store.put(`${randomUUID()}.chunk`, (async function* () {
    yield bytes;
  })());
}

const pathOf = (ref: RemoteFile): string => {
  const name = (ref as { Local: { name: string } }).Local.name;
  return join(dir, "storage", name[0]!, name.slice(0, 2), name);
};

async function openStream(ref: RemoteFile, expectedSize?: number, signal?: AbortSignal): Promise<Readable> {
  const download = await store.open(ref, { preferStream: true, ...(expectedSize !== undefined ? { expectedSize } : {}), ...(signal ? { signal } : {}) });
  if (download.kind !== "stream") throw new Error("expected a stream");
  return download.stream;
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of stream) parts.push(Buffer.from(piece as Uint8Array));
  return Buffer.concat(parts);
}

/** Open descriptors of this process (Linux). */
const openFds = (): number => readdirSync("/proc/self/fd").length;

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("LocalBlobStore.open with expectedSize", () => {
  for (const size of [0, 1, WHOLE_READ_LIMIT - 1, WHOLE_READ_LIMIT, WHOLE_READ_LIMIT + 1]) {
    it(`serves ${size} bytes exactly, read whole only up to the limit`, async () => {
      const bytes = randomBytes(size);
      const ref = await putBytes(bytes);
      const stream = await openStream(ref, size);
      // Read whole: every byte is buffered before the first read; streamed: nothing yet.
      if (size <= WHOLE_READ_LIMIT) expect(stream.readableLength).toBe(size);
      else expect(stream.readableLength).toBe(0);
      expect((await readAll(stream)).equals(bytes)).toBe(true);
    });
  }

  for (const [label, size] of [
    ["a small file", 70_000],
    ["a file above the read-whole limit", WHOLE_READ_LIMIT + 4096],
  ] as const) {
    it(`fails with StorageError when ${label} is longer or shorter than recorded`, async () => {
      const bytes = randomBytes(size);
      const longer = await putBytes(bytes);
      await appendFile(pathOf(longer), Buffer.from([1]));
      const shorter = await putBytes(bytes);
      await truncate(pathOf(shorter), size - 1);
      for (const ref of [longer, shorter]) {
        const err = await openStream(ref, size).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StorageError);
        expect(String((err as Error).message)).toMatch(/recorded/);
      }
    });
  }

  it("a file emptied entirely fails instead of serving nothing", async () => {
    const ref = await putBytes(randomBytes(1000));
    await truncate(pathOf(ref), 0);
    await expect(openStream(ref, 1000)).rejects.toBeInstanceOf(StorageError);
  });

  it("rejects a negative expected size", async () => {
    const ref = await putBytes(randomBytes(10));
    await expect(openStream(ref, -1)).rejects.toThrow(/Invalid expected size/);
  });

  it("leaves no descriptor open after many small reads and failed reads", async () => {
    const refs = await Promise.all(Array.from({ length: 20 }, (_, i) => putBytes(randomBytes(1000 + i))));
    const before = openFds();
    for (const [i, ref] of refs.entries()) await readAll(await openStream(ref, 1000 + i));
    for (const ref of refs) await openStream(ref, 5).catch(() => undefined);
    await settle();
    expect(openFds()).toBe(before);
  });
});

describe("concatChunkStreams over LocalBlobStore", () => {
  const sizes = [0, 1, 65_536, WHOLE_READ_LIMIT, WHOLE_READ_LIMIT + 1, 70_001, 3 * WHOLE_READ_LIMIT + 7, 5];
  let parts: Array<{ ref: RemoteFile; size: number }>;
  let expected: Buffer;

  beforeAll(async () => {
    const bytes = sizes.map((size) => randomBytes(size));
    expected = Buffer.concat(bytes);
    parts = await Promise.all(bytes.map(async (b) => ({ ref: await putBytes(b), size: b.length })));
  });

  it("serves parts around the read-whole limit in order", async () => {
    for (const readAheadBytes of [0, 100_000, 64 * WHOLE_READ_LIMIT]) {
      const out = await readAll(concatChunkStreams(store, parts, { readAheadBytes }));
      expect(out.equals(expected)).toBe(true);
    }
  });

  it("a part whose file no longer matches its size fails the stream, not a clean end", async () => {
    const bytes = randomBytes(50_000);
    const bad = { ref: await putBytes(bytes), size: bytes.length };
    await truncate(pathOf(bad.ref), 49_999);
    const stream = concatChunkStreams(store, [...parts.slice(0, 3), bad, ...parts.slice(3)], { readAheadBytes: 1 << 20 });
    await expect(readAll(stream)).rejects.toBeInstanceOf(StorageError);
  });

  it("a large part truncated while it streams fails the stream", async () => {
    const size = WHOLE_READ_LIMIT + 500_000;
    const big = { ref: await putBytes(randomBytes(size)), size };
    const stream = concatChunkStreams(store, [parts[1]!, big, parts[2]!], { readAheadBytes: 1 << 20 });
    let got = 0;
    const err = await (async () => {
      for await (const piece of stream) {
        const before = got;
        got += (piece as Buffer).length;
        if (before < 1 && got >= 1) await truncate(pathOf(big.ref), 600_000);
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect(String((err as Error).message)).toMatch(/600000 bytes, 1548576 were recorded/);
  });

  it("closes every file when the download is aborted midway", async () => {
    // Many parts, so files are open ahead when the abort comes.
    const many = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const b = randomBytes(i % 7 === 0 ? WHOLE_READ_LIMIT + 100 : 20_000 + i);
      return { ref: await putBytes(b), size: b.length };
    }));
    const before = openFds();
    for (let round = 0; round < 5; round++) {
      const controller = new AbortController();
      const stream = concatChunkStreams(store, many, { readAheadBytes: 4 << 20, signal: controller.signal });
      let got = 0;
      const err = await (async () => {
        for await (const piece of stream) {
          got += (piece as Buffer).length;
          if (got > 100_000 * (round + 1)) controller.abort(new Error("client disconnected"));
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).message).toBe("client disconnected");
      expect(stream.destroyed).toBe(true);
    }
    await settle();
    expect(openFds()).toBe(before);
  });

  it("closes every file when the consumer destroys the stream", async () => {
    const before = openFds();
    const stream = concatChunkStreams(store, parts, { readAheadBytes: 64 * WHOLE_READ_LIMIT });
    await new Promise<void>((resolve) => {
      stream.once("data", () => {
        stream.destroy();
        resolve();
      });
    });
    await settle();
    expect(openFds()).toBe(before);
  });
});
