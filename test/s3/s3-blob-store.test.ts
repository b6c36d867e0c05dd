import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RemoteFile } from "@attic-ts/core";
import { MAX_READ_RESUMES, S3BlobStore } from "@attic-ts/storage-s3";
import { adminClient, createBucket, listObjects, pendingUploads, removeBucket, s3Settings, s3StorageConfig } from "../helpers/s3.ts";

const MiB = 1024 * 1024;
const newKey = (): string => `${randomUUID()}.chunk`;

/** `size` pseudo-random bytes in fresh 64 KiB slices (sha256 computed on the way). */
function generated(seed: number, size: number): { body: AsyncGenerator<Uint8Array>; sha256: () => string } {
  const hash = createHash("sha256");
  async function* body(): AsyncGenerator<Uint8Array> {
    let state = seed >>> 0 || 1;
    for (let left = size; left > 0; ) {
      const length = Math.min(left, 65_536);
      const words = Buffer.allocUnsafe(Math.ceil(length / 4) * 4);
      for (let i = 0; i < words.length; i += 4) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words.writeUInt32LE(state >>> 0, i);
      }
      const slice = words.subarray(0, length);
      left -= slice.length;
      hash.update(slice);
      yield slice;
    }
  }
  return { body: body(), sha256: () => hash.digest("hex") };
}

async function digest(stream: AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { sha256: hash.digest("hex"), size };
}

async function readStream(store: S3BlobStore, ref: RemoteFile): Promise<{ sha256: string; size: number }> {
  const download = await store.open(ref, { preferStream: true });
  if (download.kind !== "stream") throw new Error("expected a stream");
  return digest(download.stream);
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error("expected a rejection");
}

let admin: S3Client;
let bucket: string;
let otherBucket: string;
let store: S3BlobStore;

beforeAll(async () => {
  admin = adminClient();
  bucket = await createBucket(admin, "s3store");
  otherBucket = await createBucket(admin, "s3store-old");
  store = new S3BlobStore(s3StorageConfig(bucket));
});

afterAll(async () => {
  await store.close();
  await removeBucket(admin, bucket);
  await removeBucket(admin, otherBucket);
  admin.destroy();
});

describe("S3BlobStore references", () => {
  it("records region, bucket and key, with the key at the bucket root", async () => {
    const key = newKey();
    const ref = await store.put(key, generated(1, 1000).body);
    expect(ref).toEqual({ S3: { region: s3Settings().region, bucket, key } });
    expect(await listObjects(admin, bucket)).toContain(`${key}:1000`);
  });

  it("reads and deletes an old reference after the bucket changed in the config", async () => {
    const old = new S3BlobStore(s3StorageConfig(otherBucket));
    const data = generated(2, 300_000);
    const ref = await old.put(newKey(), data.body);
    await old.close();
    expect(await readStream(store, ref)).toEqual({ sha256: data.sha256(), size: 300_000 });
    await store.delete(ref);
    expect(await listObjects(admin, otherBucket)).toEqual([]);
  });

  it("uses a separate, cached client for a reference from another region", async () => {
    const key = newKey();
    const data = generated(3, 5000);
    const ref = await store.put(key, data.body);
    // RGW's default zonegroup accepts any region name in the signature scope.
    const moved: RemoteFile = { S3: { region: "eu-test-1", bucket, key } };
    expect(await readStream(store, moved)).toEqual({ sha256: data.sha256(), size: 5000 });
    expect(store.client("eu-test-1")).not.toBe(store.client());
    expect(store.client("eu-test-1")).toBe(store.client("eu-test-1"));
    expect(await store.client("eu-test-1").config.region()).toBe("eu-test-1");
    await store.delete(ref);
  });
});

describe("S3BlobStore errors: not found is not a failure", () => {
  it("a missing key is BlobNotFound; a missing bucket is StorageError", async () => {
    expect((await rejection(store.open(store.refFor(newKey()), { preferStream: true }))).code).toBe("BlobNotFound");
    const ref: RemoteFile = { S3: { region: s3Settings().region, bucket: `missing-${randomUUID().slice(0, 8)}`, key: newKey() } };
    const err = await rejection(store.open(ref, { preferStream: true }));
    expect(err.code).toBe("StorageError");
    expect(err.message).toContain("NoSuchBucket");
  });

  it("wrong credentials (403) are a StorageError, unless treat-forbidden-as-missing", async () => {
    const key = newKey();
    await store.put(key, generated(4, 10).body);
    const config = s3StorageConfig(bucket);
    const wrong = { ...config, credentials: { access_key_id: config.credentials!.access_key_id, secret_access_key: "wrong-secret" } };
    const strict = new S3BlobStore(wrong);
    const lenient = new S3BlobStore({ ...wrong, "treat-forbidden-as-missing": true });
    const err = await rejection(strict.open(strict.refFor(key), { preferStream: true }));
    expect(err.code).toBe("StorageError");
    expect(err.message).toContain("HTTP 403");
    expect((await rejection(lenient.open(lenient.refFor(key), { preferStream: true }))).code).toBe("BlobNotFound");
    // Writes and deletes never hide a 403.
    expect((await rejection(lenient.put(newKey(), generated(5, 10).body))).code).toBe("StorageError");
    expect((await rejection(lenient.delete(lenient.refFor(key)))).code).toBe("StorageError");
    await Promise.all([strict.close(), lenient.close()]);
  });
});

describe("S3BlobStore uploads", () => {
  it("streams ~40 MiB as a multipart upload with bounded memory", async () => {
    const size = 40 * MiB + 12_345;
    const key = newKey();
    // Warm-up: the first multipart upload loads and initialises SDK code paths (XML parsing,
    // the HTTP agent), which is a one-off cost and not the per-upload memory being measured.
    await store.delete(await store.put(newKey(), generated(60, 9 * MiB).body));
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const data = generated(6, size);
    let ref: RemoteFile;
    try {
      ref = await store.put(key, data.body);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - before).toBeLessThan(64 * MiB);
    // A multipart object's ETag is "<md5 of part md5s>-<part count>".
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(size);
    expect(head.ETag).toMatch(/-6"$/);
    expect(await readStream(store, ref)).toEqual({ sha256: data.sha256(), size });
    await store.delete(ref);
  }, 120_000);

  it("an abort during a multipart upload leaves no object and no pending upload", async () => {
    const key = newKey();
    const controller = new AbortController();
    let produced = 0;
    async function* body(): AsyncGenerator<Uint8Array> {
      for await (const chunk of generated(7, 64 * MiB).body) {
        produced += chunk.byteLength;
        // Past two parts: the multipart upload exists and has parts when the abort comes.
        if (produced > 20 * MiB) controller.abort(new Error("test: abort upload"));
        yield chunk;
      }
    }
    const err = await rejection(store.put(key, body(), { signal: controller.signal }));
    expect(err.message).toBe("test: abort upload");
    expect(produced).toBeLessThan(64 * MiB);
    expect(await listObjects(admin, bucket)).not.toContainEqual(expect.stringContaining(key));
    expect(await pendingUploads(admin, bucket)).toEqual([]);
  }, 120_000);
});

interface BreakPlan {
  /** How many GetObject bodies to break, from the first. */
  times: number;
  /** Bytes each broken body delivers before it breaks. */
  after: number;
  /** "error": the body fails like a reset connection; "truncate": it just ends early. */
  mode: "error" | "truncate";
  /** Runs just before a body breaks. */
  beforeBreak?: () => Promise<void>;
}

/** GetObject bodies cut after `after` bytes, as a flaky network would. */
async function* cut(source: Readable, plan: BreakPlan): AsyncGenerator<Uint8Array> {
  let sent = 0;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      if (sent + chunk.byteLength >= plan.after) {
        yield chunk.subarray(0, plan.after - sent);
        await plan.beforeBreak?.();
        if (plan.mode === "error") throw new Error("test: connection reset by peer");
        return;
      }
      sent += chunk.byteLength;
      yield chunk;
    }
  } finally {
    source.destroy();
  }
}

/** A store whose client breaks GetObject bodies per `plan`, recording each GET's Range/If-Match. */
function flakyStore(plan: BreakPlan): { store: S3BlobStore; gets: Array<{ range?: string; ifMatch?: string }> } {
  const gets: Array<{ range?: string; ifMatch?: string }> = [];
  const flaky = new S3BlobStore(s3StorageConfig(bucket), {
    resumeBackoffMs: 10,
    configureClient: (client) => {
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== "GetObjectCommand") return next(args);
          const headers = (args.request as { headers: Record<string, string> }).headers;
          gets.push({ range: headers["range"], ifMatch: headers["if-match"] });
          const result = await next(args);
          if (plan.times > 0) {
            plan.times--;
            const output = result.output as { Body: Readable };
            output.Body = Readable.from(cut(output.Body, plan), { objectMode: false });
          }
          return result;
        },
        { step: "build", name: "testBreakGetObjectBody" },
      );
    },
  });
  return { store: flaky, gets };
}

describe("S3BlobStore reads resume a broken body (Attic #101)", () => {
  const size = 5 * MiB + 3;
  let ref: RemoteFile;
  let sha256: string;
  let etag: string | undefined;

  beforeAll(async () => {
    const data = generated(8, size);
    ref = await store.put(newKey(), data.body);
    sha256 = data.sha256();
    etag = (await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: (ref as { S3: { key: string } }).S3.key }))).ETag;
  });

  for (const mode of ["error", "truncate"] as const) {
    it(`resumes with Range and If-Match after the body ${mode === "error" ? "fails" : "ends early"}`, async () => {
      const { store: flaky, gets } = flakyStore({ times: 2, after: MiB, mode });
      expect(await readStream(flaky, ref)).toEqual({ sha256, size });
      expect(gets).toEqual([
        { range: undefined, ifMatch: undefined },
        { range: `bytes=${MiB}-`, ifMatch: etag },
        { range: `bytes=${2 * MiB}-`, ifMatch: etag },
      ]);
      await flaky.close();
    });
  }

  it("fails the stream (never a silent truncation) once the resumes are used up", async () => {
    const { store: flaky, gets } = flakyStore({ times: MAX_READ_RESUMES + 1, after: 100_000, mode: "truncate" });
    const download = await flaky.open(ref, { preferStream: true });
    if (download.kind !== "stream") throw new Error("expected a stream");
    let received = 0;
    const err = await rejection(
      (async () => {
        for await (const chunk of download.stream) received += (chunk as Uint8Array).byteLength;
      })(),
    );
    expect(err.code).toBe("StorageError");
    expect(received).toBe((MAX_READ_RESUMES + 1) * 100_000);
    expect(gets).toHaveLength(MAX_READ_RESUMES + 1);
    await flaky.close();
  });

  it("fails rather than splice two versions when the object changed before the resume", async () => {
    const key = newKey();
    const changed = await store.put(key, generated(9, 2 * MiB).body);
    const { store: flaky, gets } = flakyStore({
      times: 1,
      after: MiB,
      mode: "error",
      beforeBreak: async () => {
        await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(2 * MiB, 7) }));
      },
    });
    const err = await rejection(readStream(flaky, changed));
    expect(err.code).toBe("StorageError");
    expect(err.message).toContain("could not resume");
    expect(gets[1]?.range).toBe(`bytes=${MiB}-`);
    await flaky.close();
  });
});

describe("S3BlobStore presigned URLs", () => {
  it("preferStream: false answers a URL valid 600 s that plain fetch can read", async () => {
    const data = generated(10, 777_777);
    const ref = await store.put(newKey(), data.body);
    const download = await store.open(ref, { preferStream: false });
    if (download.kind !== "url") throw new Error("expected a URL");
    const url = new URL(download.url);
    expect(url.origin).toBe(new URL(s3Settings().endpoint).origin);
    expect(url.pathname).toBe(`/${bucket}/${(ref as { S3: { key: string } }).S3.key}`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("600");
    const response = await fetch(download.url);
    expect(response.status).toBe(200);
    expect(await digest([new Uint8Array(await response.arrayBuffer())])).toEqual({ sha256: data.sha256(), size: 777_777 });
    // The signature covers the key: the same query on another key is refused.
    const tampered = download.url.replace((ref as { S3: { key: string } }).S3.key, newKey());
    expect((await fetch(tampered)).status).toBe(403);
  });
});
