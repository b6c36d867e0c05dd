import { randomUUID } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3BlobStore } from "@attic-ts/storage-s3";
import type { S3BlobStoreOptions } from "@attic-ts/storage-s3";
import { adminClient, createBucket, removeBucket, s3StorageConfig } from "../helpers/s3.ts";

const MiB = 1024 * 1024;
const newKey = (): string => `${randomUUID()}.chunk`;
const past = (): Date => new Date(Date.now() - 60_000);
const future = (): Date => new Date(Date.now() + 60_000);

interface Pending {
  key: string;
  uploadId: string;
}

/** Starts a multipart upload the way a killed `put` leaves it: parts sent, never completed. */
async function startUpload(client: S3Client, bucket: string, key: string, partSizes: number[]): Promise<Pending> {
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const uploadId = created.UploadId!;
  for (const [index, size] of partSizes.entries()) {
    const body = Buffer.alloc(size, index + 1);
    await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: index + 1, Body: body }));
  }
  return { key, uploadId };
}

/** Every in-progress upload of the bucket as `key:uploadId` (paged, independent of the store). */
async function pending(client: S3Client, bucket: string): Promise<string[]> {
  const found: string[] = [];
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker, UploadIdMarker }));
    for (const u of page.Uploads ?? []) found.push(`${u.Key}:${u.UploadId}`);
    if (!page.IsTruncated) return found.sort();
    KeyMarker = page.NextKeyMarker;
    UploadIdMarker = page.NextUploadIdMarker;
  }
}

const id = (p: Pending): string => `${p.key}:${p.uploadId}`;

async function abortAll(client: S3Client, bucket: string): Promise<void> {
  for (const entry of await pending(client, bucket)) {
    const at = entry.lastIndexOf(":");
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: entry.slice(0, at), UploadId: entry.slice(at + 1) }));
  }
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

let admin: S3Client;
let bucket: string;
let otherBucket: string;
const stores: S3BlobStore[] = [];

function newStore(options: S3BlobStoreOptions = {}, name = bucket): S3BlobStore {
  const store = new S3BlobStore(s3StorageConfig(name), options);
  stores.push(store);
  return store;
}

beforeAll(async () => {
  admin = adminClient();
  bucket = await createBucket(admin, "leftovers");
  otherBucket = await createBucket(admin, "leftovers-other");
});

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const name of [bucket, otherBucket]) {
    await abortAll(admin, name);
    await removeBucket(admin, name);
  }
  admin.destroy();
});

describe("S3BlobStore.removeLeftovers aborts stale multipart uploads", () => {
  it("keeps a young upload, aborts it once older than the cutoff, and leaves everything else", async () => {
    await abortAll(admin, bucket);
    const store = newStore();
    const chunk = await startUpload(admin, bucket, newKey(), [5 * MiB, 1234]);
    // Not the store's: other key shapes in the same bucket, and a chunk key in another bucket.
    const foreign = [
      await startUpload(admin, bucket, `backups/${newKey()}`, [100]),
      await startUpload(admin, bucket, "notes.txt", [100]),
      await startUpload(admin, bucket, `${randomUUID()}.chunk.part`, [100]),
    ];
    const elsewhere = await startUpload(admin, otherBucket, newKey(), [100]);
    const stored = Buffer.from(`completed ${randomUUID()}`);
    const ref = await store.put(newKey(), once(stored));

    expect(await store.removeLeftovers(past())).toEqual({ files: 0, bytes: 0 });
    expect(await pending(admin, bucket)).toContain(id(chunk));

    expect(await store.removeLeftovers(future())).toEqual({ files: 1, bytes: 5 * MiB + 1234 });
    expect(await pending(admin, bucket)).toEqual(foreign.map(id).sort());
    expect(await pending(admin, otherBucket)).toEqual([id(elsewhere)]);
    const download = await store.open(ref, { preferStream: true });
    if (download.kind !== "stream") throw new Error("expected a stream");
    expect(await readAll(download.stream)).toEqual(stored);

    // Nothing left to do: a second run removes nothing.
    expect(await store.removeLeftovers(future())).toEqual({ files: 0, bytes: 0 });
  });

  it("follows the listing across pages of uploads and of parts", async () => {
    await abortAll(admin, bucket);
    const requests = new Map<string, number>();
    const store = newStore({
      leftoverPageSize: 1,
      configureClient: (client) => {
        client.middlewareStack.add(
          (next, context) => async (args) => {
            requests.set(context.commandName, (requests.get(context.commandName) ?? 0) + 1);
            return next(args);
          },
          { step: "initialize", name: "testCountRequests" },
        );
      },
    });
    const chunks: Pending[] = [];
    for (let i = 0; i < 3; i++) chunks.push(await startUpload(admin, bucket, newKey(), [1000, 2000, 3 + i]));
    // Two uploads of one key (a retried put) are two entries that differ only in upload id.
    const key = newKey();
    chunks.push(await startUpload(admin, bucket, key, [10]), await startUpload(admin, bucket, key, [20]));
    const foreign = [await startUpload(admin, bucket, "0-not-a-chunk", [5]), await startUpload(admin, bucket, "zz/not-a-chunk", [5])];

    const removed = await store.removeLeftovers(future());
    expect(removed).toEqual({ files: 5, bytes: 3 * 3000 + 3 + 4 + 5 + 10 + 20 });
    // One upload per page (7 uploads, so at least 7 pages) and one part per page (3 + 3 + 3 + 1 + 1).
    expect(requests.get("ListMultipartUploadsCommand")).toBeGreaterThanOrEqual(7);
    expect(requests.get("ListPartsCommand")).toBeGreaterThanOrEqual(11);
    expect(requests.get("AbortMultipartUploadCommand")).toBe(5);
    expect(await pending(admin, bucket)).toEqual(foreign.map(id).sort());
  });

  it("skips an upload that another process aborts meanwhile, counting it nowhere", async () => {
    for (const command of ["ListPartsCommand", "AbortMultipartUploadCommand"]) {
      await abortAll(admin, bucket);
      const raced = await startUpload(admin, bucket, newKey(), [100]);
      const store = newStore({
        configureClient: (client) => {
          client.middlewareStack.add(
            (next, context) => async (args) => {
              if (context.commandName === command) {
                const input = args.input as { Key: string; UploadId: string };
                await admin.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: input.Key, UploadId: input.UploadId }));
              }
              return next(args);
            },
            { step: "initialize", name: "testAbortFirst" },
          );
        },
      });
      expect(await store.removeLeftovers(future()), command).toEqual({ files: 0, bytes: 0 });
      expect(await pending(admin, bucket)).not.toContain(id(raced));
    }
  });

  it("honours the abort signal, before and during the work", async () => {
    await abortAll(admin, bucket);
    const upload = await startUpload(admin, bucket, newKey(), [100]);
    const reason = new Error("stop now");
    const store = newStore();
    await expect(store.removeLeftovers(future(), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);

    const controller = new AbortController();
    const stopping = newStore({
      configureClient: (client) => {
        client.middlewareStack.add(
          (next, context) => async (args) => {
            if (context.commandName === "ListPartsCommand") controller.abort(reason);
            return next(args);
          },
          { step: "initialize", name: "testAbortDuring" },
        );
      },
    });
    await expect(stopping.removeLeftovers(future(), { signal: controller.signal })).rejects.toBe(reason);
    expect(await pending(admin, bucket)).toEqual([id(upload)]);
  });

  it("reports a failing backend as StorageError", async () => {
    const store = newStore({}, `missing-${randomUUID().slice(0, 8)}`);
    const err = await store.removeLeftovers(future()).then(
      () => undefined,
      (e: { code?: string; message: string }) => e,
    );
    expect(err?.code).toBe("StorageError");
    expect(err?.message).toContain("NoSuchBucket");
  });
});
