import { randomBytes } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { inject } from "vitest";
import type { S3StorageConfig } from "@attic-ts/storage-s3";

/** What global-setup provides: the run's Ceph RADOS Gateway. */
export type S3Settings = ReturnType<typeof s3Settings>;

export function s3Settings() {
  return inject("s3");
}

/** A client with the gateway's user keys, for test set-up and inspection. */
export function adminClient(settings: S3Settings = s3Settings()): S3Client {
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Creates a bucket with a fresh random name (with the SDK: RGW rejects curl's SigV4 here). */
export async function createBucket(client: S3Client, prefix = "attic-ts"): Promise<string> {
  const bucket = `${prefix}-${randomBytes(6).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** The `[storage]` table for a bucket on the gateway. */
export function s3StorageConfig(bucket: string, settings: S3Settings = s3Settings()): S3StorageConfig {
  return {
    type: "s3",
    region: settings.region,
    bucket,
    endpoint: settings.endpoint,
    credentials: { access_key_id: settings.accessKeyId, secret_access_key: settings.secretAccessKey },
    "treat-forbidden-as-missing": false,
  };
}

/** Every key in the bucket with its size, as `key:size`, sorted. */
export async function listObjects(client: S3Client, bucket: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) found.push(`${o.Key}:${o.Size}`);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found.sort();
}

/** Multipart uploads started but neither completed nor aborted. */
export async function pendingUploads(client: S3Client, bucket: string): Promise<string[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (page.Uploads ?? []).map((u) => `${u.Key}:${u.UploadId}`);
}

/** Deletes every object, then the bucket. */
export async function removeBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
