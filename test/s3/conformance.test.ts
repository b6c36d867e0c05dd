import { afterAll, beforeAll } from "vitest";
import { describeBlobStoreConformance } from "@attic-ts/core/testing";
import { S3BlobStore } from "@attic-ts/storage-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { adminClient, createBucket, removeBucket, s3StorageConfig } from "../helpers/s3.ts";

let admin: S3Client;
let bucket: string;

beforeAll(async () => {
  admin = adminClient();
  bucket = await createBucket(admin, "conformance");
});

afterAll(async () => {
  await removeBucket(admin, bucket);
  admin.destroy();
});

describeBlobStoreConformance("S3 on Ceph RADOS Gateway", {
  create: async () => new S3BlobStore(s3StorageConfig(bucket)),
  // The presigned URL is fetched by a client that knows nothing of the SDK or the keys.
  fetchUrl: async (url) => {
    const response = await fetch(url);
    if (response.status !== 200) throw new Error(`GET presigned URL answered ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  },
});
