import { BLOB_STORE, definePlugin } from "@attic-ts/core";
import { s3StorageConfigSchema } from "./config.ts";
import { S3BlobStore } from "./s3-blob-store.ts";

export { s3StorageConfigSchema, s3CredentialsSchema } from "./config.ts";
export type { S3StorageConfig, S3StorageConfigInput } from "./config.ts";
export { MAX_READ_RESUMES, PART_SIZE, PRESIGNED_URL_SECONDS, S3BlobStore, UPLOAD_QUEUE_SIZE } from "./s3-blob-store.ts";
export type { S3BlobStoreOptions } from "./s3-blob-store.ts";
export { ResumingReadStream } from "./resuming-read-stream.ts";

/** `[storage] type = "s3"`: chunk files in an S3 (or S3-compatible) bucket, as Attic stores them. */
export const s3Plugin = definePlugin({
  kind: "storage",
  type: "s3",
  configSchema: s3StorageConfigSchema,
  register(container, config, ctx) {
    const store = new S3BlobStore(config);
    container.registerInstance(BLOB_STORE, store);
    ctx.lifecycle.onStop(() => store.close());
  },
});

export default s3Plugin;
