import { s3Plugin } from "./plugin.ts";

export { s3StorageConfigSchema, s3CredentialsSchema } from "./config.ts";
export type { S3StorageConfig, S3StorageConfigInput } from "./config.ts";
export { MAX_READ_RESUMES, PART_SIZE, PRESIGNED_URL_SECONDS, S3BlobStore, UPLOAD_QUEUE_SIZE } from "./s3-blob-store.ts";
export type { S3BlobStoreOptions } from "./s3-blob-store.ts";
export { ResumingReadStream } from "./resuming-read-stream.ts";
export { s3Plugin };

export default s3Plugin;
