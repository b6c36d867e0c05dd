import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlobStore, Download } from "../storage/blob-store.ts";
import { putBytes } from "../storage/put-bytes.ts";
import { asyncOf } from "../util/async-of.ts";
import { remoteFileKey } from "../storage/remote-file.ts";
import type { RemoteFile } from "../storage/remote-file.ts";

export interface BlobStoreConformanceOptions {
  /** Makes the store under test; called once per suite, before the first case. */
  create: () => Promise<BlobStore>;
  /** Removes what the suite wrote (temp directory, bucket contents); runs before `store.close()`. */
  cleanup?: (store: BlobStore) => Promise<void>;
  /** Fetches a presigned URL's bytes; defaults to the global `fetch`. */
  fetchUrl?: (url: string) => Promise<Uint8Array>;
}

const MiB = 1024 * 1024;
/** Odd slice sizes (bytes) so no backend can rely on aligned or power-of-two writes. */
const ODD_SLICES = [1, 7, 4093, 65_537, 1_000_003, 13, 262_147];
const BIG_TIMEOUT_MS = 120_000;

/** Deterministic pseudo-random bytes (xorshift32), so a failing case reproduces exactly. */
class ByteSource {
  #state: number;
  #word = 0;
  #left = 0;

  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }

  next(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      if (this.#left === 0) {
        let x = this.#state;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        this.#state = x >>> 0;
        this.#word = this.#state;
        this.#left = 4;
      }
      out[i] = this.#word & 0xff;
      this.#word >>>= 8;
      this.#left--;
    }
    return out;
  }
}

/** Yields `size` bytes in freshly allocated slices; nothing is kept after it is yielded. */
async function* generate(seed: number, size: number, slices: readonly number[] = ODD_SLICES): AsyncGenerator<Uint8Array> {
  const source = new ByteSource(seed);
  let remaining = size;
  for (let i = 0; remaining > 0; i++) {
    const length = Math.min(remaining, slices[i % slices.length] ?? 1);
    remaining -= length;
    yield source.next(length);
  }
}

/** A body plus the sha256 (hex) and byte count of whatever the store actually pulled from it. */
function tapped(body: AsyncIterable<Uint8Array>): { body: AsyncGenerator<Uint8Array>; sha256: () => string; bytes: () => number } {
  const hash = createHash("sha256");
  let bytes = 0;
  async function* wrapped(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      yield chunk;
    }
  }
  return { body: wrapped(), sha256: () => hash.copy().digest("hex"), bytes: () => bytes };
}

async function digestOf(download: Download, fetchUrl: (url: string) => Promise<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = download.kind === "stream" ? download.stream : [await fetchUrl(download.url)];
  for await (const chunk of source) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { sha256: hash.digest("hex"), size };
}

async function defaultFetch(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Resolves with the rejection reason; fails the test if the promise resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the operation to reject, but it resolved");
}

/** Collects process-level unhandled errors while `fn` runs and for a short while after. */
async function withoutUnhandledErrors(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const record = (err: unknown): void => {
    seen.push(err);
  };
  process.on("unhandledRejection", record);
  process.on("uncaughtException", record);
  try {
    await fn();
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off("unhandledRejection", record);
    process.off("uncaughtException", record);
  }
  expect(seen).toEqual([]);
}

const newKey = (): string => `${randomUUID()}.chunk`;

/**
 * Registers the BlobStore contract (see `storage/blob-store.ts`) as Vitest cases. Every storage
 * plugin runs it; keys are random per case, so a shared bucket or directory is safe.
 */
export function describeBlobStoreConformance(name: string, options: BlobStoreConformanceOptions): void {
  const fetchUrl = options.fetchUrl ?? defaultFetch;

  describe(`BlobStore conformance: ${name}`, () => {
    let store: BlobStore;

    beforeAll(async () => {
      store = await options.create();
    });

    afterAll(async () => {
      if (!store) return;
      await options.cleanup?.(store);
      await store.close?.();
    });

    async function openStream(ref: RemoteFile, signal?: AbortSignal): Promise<Readable> {
      const download = await store.open(ref, signal ? { preferStream: true, signal } : { preferStream: true });
      if (download.kind !== "stream") throw new Error(`open with preferStream: true answered ${download.kind}`);
      expect(download.stream).toBeInstanceOf(Readable);
      return download.stream;
    }

    async function readBack(ref: RemoteFile): Promise<{ sha256: string; size: number }> {
      return digestOf({ kind: "stream", stream: await openStream(ref) }, fetchUrl);
    }

    async function putGenerated(key: string, seed: number, size: number): Promise<{ ref: RemoteFile; sha256: string }> {
      const body = tapped(generate(seed, size));
      const ref = await store.put(key, body.body);
      expect(body.bytes()).toBe(size);
      return { ref, sha256: body.sha256() };
    }

    async function expectNotFound(ref: RemoteFile): Promise<void> {
      const err = await rejectionOf(store.open(ref, { preferStream: true }));
      expect(err).toBeInstanceOf(Error);
      expect((err as { code?: unknown }).code).toBe("BlobNotFound");
    }

    /** Nothing under `key` is readable, and (with `list`) no listed key mentions it. */
    async function expectInvisible(key: string): Promise<void> {
      await expectNotFound(store.refFor(key));
      if (!store.capabilities.list || !store.list) return;
      const id = key.replace(/\.chunk$/, "");
      for await (const blob of store.list()) expect(blob.key).not.toContain(id);
    }

    it("declares a type and its capabilities", () => {
      expect(typeof store.type).toBe("string");
      expect(store.type.length).toBeGreaterThan(0);
      expect(typeof store.capabilities.presignedUrls).toBe("boolean");
      expect(typeof store.capabilities.list).toBe("boolean");
      if (store.capabilities.list) expect(typeof store.list).toBe("function");
    });

    const sizes: Array<[string, number]> = [
      ["empty", 0],
      ["1 byte", 1],
      ["1 MiB", MiB],
      ["~24 MiB streamed in odd slices", 24 * MiB + 13],
    ];
    for (const [label, size] of sizes) {
      it(`round-trips ${label} (sha256-verified)`, async () => {
        const key = newKey();
        const written = await putGenerated(key, size + 1, size);
        const read = await readBack(written.ref);
        expect(read).toEqual({ sha256: written.sha256, size });
      }, BIG_TIMEOUT_MS);
    }

    it("accepts a Node Readable as the body", async () => {
      const key = newKey();
      const parts = Array.from({ length: 5 }, (_, i) => Buffer.from(new ByteSource(i + 100).next(10_000 + i)));
      const ref = await store.put(key, Readable.from(parts));
      const expected = createHash("sha256").update(Buffer.concat(parts)).digest("hex");
      expect(await readBack(ref)).toEqual({ sha256: expected, size: 50_010 });
    });

    it("refFor(key) equals what put returns and survives a JSON round trip", async () => {
      const key = newKey();
      const planned = store.refFor(key);
      const { ref, sha256 } = await putGenerated(key, 7, 4096);
      expect(ref).toEqual(planned);
      expect(remoteFileKey(ref)).toBe(key);
      const revived = JSON.parse(JSON.stringify(ref)) as RemoteFile;
      expect(revived).toEqual(ref);
      expect((await readBack(revived)).sha256).toBe(sha256);
    });

    it("allows overwriting a key with the same bytes", async () => {
      const key = newKey();
      const first = await putGenerated(key, 11, 70_000);
      const second = await putGenerated(key, 11, 70_000);
      expect(second.ref).toEqual(first.ref);
      expect(await readBack(second.ref)).toEqual({ sha256: first.sha256, size: 70_000 });
    });

    it("overwriting a key with other bytes replaces the content", async () => {
      const key = newKey();
      await putGenerated(key, 12, 70_000);
      const second = await putGenerated(key, 13, 1_000);
      expect(await readBack(second.ref)).toEqual({ sha256: second.sha256, size: 1_000 });
    });

    it("opening a missing key throws BlobNotFound", async () => {
      await expectNotFound(store.refFor(newKey()));
    });

    it("a reference the backend cannot read fails, but not as BlobNotFound", async () => {
      // No backend handles Http references (Attic uses them in tests only).
      const ref: RemoteFile = { Http: { url: `http://attic-ts.invalid/${newKey()}` } };
      const err = await rejectionOf(store.open(ref, { preferStream: true }));
      expect(err).toBeInstanceOf(Error);
      expect((err as { code?: unknown }).code).not.toBe("BlobNotFound");
    });

    it("delete is idempotent and open after delete is BlobNotFound", async () => {
      await store.delete(store.refFor(newKey()));
      const key = newKey();
      const { ref } = await putGenerated(key, 21, 5_000);
      await store.delete(ref);
      await store.delete(ref);
      await expectInvisible(key);
    });

    it("put with an already aborted signal rejects and writes nothing", async () => {
      const key = newKey();
      const controller = new AbortController();
      controller.abort(new Error("conformance: aborted before put"));
      const err = await rejectionOf(store.put(key, generate(3, 10_000), { signal: controller.signal }));
      expect(err).toBeInstanceOf(Error);
      await expectInvisible(key);
    });

    it("an aborted put rejects, stops reading the body and leaves nothing visible", async () => {
      const key = newKey();
      const controller = new AbortController();
      const reason = new Error("conformance: put aborted");
      const total = 64 * MiB;
      let produced = 0;
      async function* body(): AsyncGenerator<Uint8Array> {
        const source = new ByteSource(5);
        while (produced < total) {
          if (produced >= MiB) controller.abort(reason);
          produced += 65_536;
          yield source.next(65_536);
        }
      }
      const err = await rejectionOf(store.put(key, body(), { signal: controller.signal }));
      const cause = (err as { cause?: unknown }).cause;
      expect(err === reason || cause === reason || (err as Error).name === "AbortError").toBe(true);
      expect(produced).toBeLessThan(total);
      await expectInvisible(key);
    }, BIG_TIMEOUT_MS);

    it("a body that throws mid-stream rejects the put and leaves nothing visible", async () => {
      const key = newKey();
      const failure = new Error("conformance: source failed");
      async function* body(): AsyncGenerator<Uint8Array> {
        yield* generate(9, 3 * MiB);
        throw failure;
      }
      const err = await rejectionOf(store.put(key, body()));
      expect(err === failure || (err as { cause?: unknown }).cause === failure).toBe(true);
      await expectInvisible(key);
    }, BIG_TIMEOUT_MS);

    it("an opened stream destroyed early releases it without unhandled errors", async () => {
      const key = newKey();
      const { ref } = await putGenerated(key, 31, 4 * MiB);
      await withoutUnhandledErrors(async () => {
        const stream = await openStream(ref);
        const errors: unknown[] = [];
        stream.on("error", (err) => errors.push(err));
        const closed = new Promise((resolve) => stream.once("close", resolve));
        stream.once("data", () => stream.destroy());
        await closed;
        expect(stream.destroyed).toBe(true);
        expect(errors).toEqual([]);

        // Leaving a for-await loop early destroys the stream as well.
        const again = await openStream(ref);
        for await (const chunk of again) {
          expect(chunk.byteLength).toBeGreaterThan(0);
          break;
        }
        expect(again.destroyed).toBe(true);
      });
      await store.delete(ref);
      await expectNotFound(ref);
    }, BIG_TIMEOUT_MS);

    it("aborting the open signal ends the stream early", async () => {
      const key = newKey();
      const size = 8 * MiB;
      const body = tapped(generate(41, size, [65_536]));
      const ref = await store.put(key, body.body);
      await withoutUnhandledErrors(async () => {
        const controller = new AbortController();
        const stream = await openStream(ref, controller.signal);
        let received = 0;
        try {
          for await (const chunk of stream) {
            received += (chunk as Uint8Array).byteLength;
            controller.abort(new Error("conformance: read aborted"));
          }
        } catch {
          // Expected: the stream is destroyed with the abort reason.
        }
        expect(received).toBeLessThan(size);
        expect(stream.destroyed).toBe(true);
      });
    }, BIG_TIMEOUT_MS);

    it("handles 16 concurrent puts to distinct keys", async () => {
      const jobs = Array.from({ length: 16 }, (_, i) => ({ key: newKey(), seed: 1000 + i, size: 100_000 + i * 4099 }));
      const written = await Promise.all(jobs.map((job) => putGenerated(job.key, job.seed, job.size)));
      const read = await Promise.all(written.map((w) => readBack(w.ref)));
      read.forEach((r, i) => expect(r).toEqual({ sha256: written[i]?.sha256, size: jobs[i]?.size }));
    }, BIG_TIMEOUT_MS);

    // `putBytes` is optional: these cases go through core's `putBytes`, which takes the store's
    // own where it has one and `put` otherwise, so every store runs them.
    const hexOf = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

    it("putBytes round-trips bytes held in memory, under the reference put would record", async () => {
      for (const size of [0, 1, 70_000, MiB + 3]) {
        const key = newKey();
        const data = new ByteSource(400 + size).next(size);
        const ref = await putBytes(store, key, data);
        expect(ref).toEqual(store.refFor(key));
        expect(await readBack(ref)).toEqual({ sha256: hexOf(data), size });
      }
    }, BIG_TIMEOUT_MS);

    // `deferSync` and `syncWrites` are optional too: a store without `syncWrites` ignores the
    // option, so every store runs this.
    it("writes with deferSync are visible at once, and read back the same after syncWrites", async () => {
      const written = await Promise.all(
        [0, 70_000, 200_003].map(async (size, i) => {
          const key = newKey();
          const data = new ByteSource(500 + i).next(size);
          const ref = i % 2 === 0 ? await putBytes(store, key, data, { deferSync: true }) : await store.put(key, asyncOf(data), { deferSync: true });
          expect(await readBack(ref)).toEqual({ sha256: hexOf(data), size });
          return { ref, sha256: hexOf(data), size };
        }),
      );
      await store.syncWrites?.();
      for (const w of written) expect(await readBack(w.ref)).toEqual({ sha256: w.sha256, size: w.size });
      // Nothing deferred since: a flush still succeeds.
      await store.syncWrites?.();
    }, BIG_TIMEOUT_MS);

    it("putBytes over an existing key replaces the content", async () => {
      const key = newKey();
      await putGenerated(key, 61, 70_000);
      const data = new ByteSource(62).next(1_000);
      const ref = await putBytes(store, key, data);
      expect(await readBack(ref)).toEqual({ sha256: hexOf(data), size: 1_000 });
    });

    it("putBytes with an already aborted signal rejects and writes nothing", async () => {
      const key = newKey();
      const controller = new AbortController();
      controller.abort(new Error("conformance: aborted before putBytes"));
      const err = await rejectionOf(putBytes(store, key, new ByteSource(63).next(10_000), { signal: controller.signal }));
      expect(err).toBeInstanceOf(Error);
      await expectInvisible(key);
    });

    it("putBytes aborted while it runs either rejects leaving nothing visible, or stores every byte", async () => {
      const key = newKey();
      const controller = new AbortController();
      const reason = new Error("conformance: putBytes aborted");
      const data = new ByteSource(64).next(300_000);
      const pending = putBytes(store, key, data, { signal: controller.signal });
      controller.abort(reason);
      // A store that writes memory may have finished before the abort; one doing I/O has not.
      const outcome = await pending.then((ref) => ({ ref }), (err: unknown) => ({ err }));
      if ("ref" in outcome) {
        expect(await readBack(outcome.ref)).toEqual({ sha256: hexOf(data), size: data.byteLength });
        return;
      }
      const cause = (outcome.err as { cause?: unknown }).cause;
      expect(outcome.err === reason || cause === reason || (outcome.err as Error).name === "AbortError").toBe(true);
      await expectInvisible(key);
    });

    it("handles 16 concurrent putBytes to distinct keys", async () => {
      const jobs = Array.from({ length: 16 }, (_, i) => ({ key: newKey(), data: new ByteSource(2000 + i).next(60_000 + i * 4099) }));
      const refs = await Promise.all(jobs.map((job) => putBytes(store, job.key, job.data)));
      const read = await Promise.all(refs.map((ref) => readBack(ref)));
      read.forEach((r, i) => expect(r).toEqual({ sha256: hexOf(jobs[i]!.data), size: jobs[i]!.data.byteLength }));
    }, BIG_TIMEOUT_MS);

    it("preferStream: false answers a URL with presignedUrls, a stream otherwise", async () => {
      const key = newKey();
      const { ref, sha256 } = await putGenerated(key, 51, 300_000);
      const download = await store.open(ref, { preferStream: false });
      expect(download.kind).toBe(store.capabilities.presignedUrls ? "url" : "stream");
      expect(await digestOf(download, fetchUrl)).toEqual({ sha256, size: 300_000 });
    });

    // `expectedSize` is a hint a backend may use (read a small file whole) or ignore; with the
    // right size the bytes are the same as without it, with a wrong one a backend must never
    // serve other bytes than the file's: it fails, or (ignoring the hint) serves the file.
    const hinted: Array<[string, number]> = [
      ["empty", 0],
      ["1 byte", 1],
      ["64 KiB", 65_536],
      ["1 MiB", MiB],
      ["1 MiB + 1", MiB + 1],
      ["3 MiB + 5", 3 * MiB + 5],
    ];
    for (const [label, size] of hinted) {
      it(`open with the right expectedSize reads ${label} exactly`, async () => {
        const { ref, sha256 } = await putGenerated(newKey(), 70 + size, size);
        const download = await store.open(ref, { preferStream: true, expectedSize: size });
        expect(download.kind).toBe("stream");
        expect(await digestOf(download, fetchUrl)).toEqual({ sha256, size });
      }, BIG_TIMEOUT_MS);
    }

    /** Outcome of reading with a hint: the error, or the digest of what was served. */
    async function readHinted(ref: RemoteFile, expectedSize: number): Promise<{ error: unknown } | { sha256: string; size: number }> {
      try {
        const download = await store.open(ref, { preferStream: true, expectedSize });
        return await digestOf(download, fetchUrl);
      } catch (error) {
        return { error };
      }
    }

    for (const [label, size] of [
      ["small", 70_000],
      ["large", 2 * MiB + 3],
    ] as const) {
      for (const delta of [-1, 1, -size]) {
        it(`open with expectedSize ${delta === -size ? "0" : delta > 0 ? "+1" : "-1"} for a ${label} file fails or serves the file as it is`, async () => {
          const { ref, sha256 } = await putGenerated(newKey(), 80 + size, size);
          await withoutUnhandledErrors(async () => {
            const outcome = await readHinted(ref, size + delta);
            if ("error" in outcome) {
              expect(outcome.error).toBeInstanceOf(Error);
              expect((outcome.error as { code?: unknown }).code).not.toBe("BlobNotFound");
            } else {
              expect(outcome).toEqual({ sha256, size });
            }
          });
        }, BIG_TIMEOUT_MS);
      }
    }

    it("open of a missing key with expectedSize throws BlobNotFound", async () => {
      for (const expectedSize of [0, 100, 5 * MiB]) {
        const err = await rejectionOf(store.open(store.refFor(newKey()), { preferStream: true, expectedSize }));
        expect((err as { code?: unknown }).code).toBe("BlobNotFound");
      }
    });

    it("open with expectedSize and an already aborted signal rejects", async () => {
      const { ref } = await putGenerated(newKey(), 91, 10_000);
      const controller = new AbortController();
      controller.abort(new Error("conformance: aborted before open"));
      await withoutUnhandledErrors(async () => {
        const err = await rejectionOf(store.open(ref, { preferStream: true, expectedSize: 10_000, signal: controller.signal }));
        expect(err).toBeInstanceOf(Error);
      });
    });

    /** The sha256 (hex) of the bytes concatenated. */
    const sha256Of = (parts: readonly Uint8Array[]): string => {
      const hash = createHash("sha256");
      for (const part of parts) hash.update(part);
      return hash.digest("hex");
    };

    it("readMany answers the files' bytes concatenated in order", async (context) => {
      if (!store.readMany) return context.skip("readMany is not implemented");
      const sizes = [0, 1, 65_536, 100_003, 7];
      const files = [];
      const expected: Uint8Array[] = [];
      for (const [i, size] of sizes.entries()) {
        const bytes = new ByteSource(100 + i).next(size);
        files.push({ ref: await store.put(newKey(), (async function* () { yield bytes; })()), size });
        expected.push(bytes);
      }
      const all = await store.readMany(files);
      expect(all.byteLength).toBe(sizes.reduce((a, b) => a + b, 0));
      expect(sha256Of([all])).toBe(sha256Of(expected));
      // The same file twice, and a single file.
      const twice = await store.readMany([files[2]!, files[2]!]);
      expect(sha256Of([twice])).toBe(sha256Of([expected[2]!, expected[2]!]));
      expect(sha256Of([await store.readMany([files[3]!])])).toBe(sha256Of([expected[3]!]));
      expect((await store.readMany([])).byteLength).toBe(0);
    });

    it("readMany given memory to read into answers the right bytes, at its start when it uses it", async (context) => {
      if (!store.readMany) return context.skip("readMany is not implemented");
      const a = new ByteSource(120).next(70_000);
      const b = new ByteSource(121).next(3);
      const files = [
        { ref: await store.put(newKey(), (async function* () { yield a; })()), size: a.byteLength },
        { ref: await store.put(newKey(), (async function* () { yield b; })()), size: b.byteLength },
      ];
      for (const memory of [new SharedArrayBuffer(80_000), new ArrayBuffer(80_000)]) {
        const into = new Uint8Array(memory, 16, 70_100);
        const answer = await store.readMany(files, { into });
        expect(sha256Of([answer])).toBe(sha256Of([a, b]));
        if (answer.buffer === memory) expect(answer.byteOffset).toBe(16);
      }
    });

    it("readMany of a missing file throws BlobNotFound", async (context) => {
      if (!store.readMany) return context.skip("readMany is not implemented");
      const { ref } = await putGenerated(newKey(), 122, 1000);
      const err = await rejectionOf(store.readMany([{ ref, size: 1000 }, { ref: store.refFor(newKey()), size: 10 }]));
      expect((err as { code?: unknown }).code).toBe("BlobNotFound");
    });

    it("readMany fails, not as BlobNotFound, when a file holds more or fewer bytes than its size", async (context) => {
      if (!store.readMany) return context.skip("readMany is not implemented");
      const { ref } = await putGenerated(newKey(), 123, 5000);
      const { ref: other } = await putGenerated(newKey(), 124, 10);
      for (const size of [4999, 5001, 0]) {
        await withoutUnhandledErrors(async () => {
          const err = await rejectionOf(store.readMany!([{ ref: other, size: 10 }, { ref, size }]));
          expect(err).toBeInstanceOf(Error);
          expect((err as { code?: unknown }).code).not.toBe("BlobNotFound");
        });
      }
    });

    it("readMany with an already aborted signal rejects", async (context) => {
      if (!store.readMany) return context.skip("readMany is not implemented");
      const { ref } = await putGenerated(newKey(), 125, 10_000);
      const controller = new AbortController();
      controller.abort(new Error("conformance: aborted before readMany"));
      await withoutUnhandledErrors(async () => {
        const err = await rejectionOf(store.readMany!([{ ref, size: 10_000 }], { signal: controller.signal }));
        expect(err).toBeInstanceOf(Error);
      });
    });

    it("list() yields stored keys with their sizes", async (context) => {
      if (!store.capabilities.list || !store.list) return context.skip("capabilities.list is false");
      const a = newKey();
      const b = newKey();
      await putGenerated(a, 61, 0);
      await putGenerated(b, 62, 12_345);
      const found = new Map<string, { size: number; lastModified: Date }>();
      for await (const blob of store.list()) found.set(blob.key, blob);
      expect(found.get(a)?.size).toBe(0);
      expect(found.get(b)?.size).toBe(12_345);
      for (const key of [a, b]) {
        const modified = found.get(key)?.lastModified;
        expect(modified).toBeInstanceOf(Date);
        expect(Number.isNaN(modified?.getTime())).toBe(false);
      }
    });

    it("removeLeftovers never removes a stored key, however late the cutoff", async (context) => {
      if (!store.removeLeftovers) return context.skip("removeLeftovers is not implemented");
      const key = newKey();
      const { ref, sha256 } = await putGenerated(key, 63, 70_000);
      const past = await store.removeLeftovers(new Date(0));
      expect(past).toEqual({ files: 0, bytes: 0 });
      const removed = await store.removeLeftovers(new Date(Date.now() + 3_600_000));
      expect(removed.files).toBeGreaterThanOrEqual(0);
      expect(removed.bytes).toBeGreaterThanOrEqual(0);
      expect(await readBack(ref)).toEqual({ sha256, size: 70_000 });
    });
  });
}
