import { z } from "zod";

/** `[storage.credentials]`: static keys; without this table the SDK's default chain is used. */
export const s3CredentialsSchema = z.strictObject({
  access_key_id: z.string().min(1, "expected the access key ID"),
  secret_access_key: z.string().min(1, "expected the secret access key"),
});

/**
 * Attic's `[storage]` table for `type = "s3"` (same keys, same meaning), plus one documented
 * attic-ts extension, `treat-forbidden-as-missing`.
 */
export const s3StorageConfigSchema = z.strictObject({
  type: z.literal("s3"),
  /** The bucket's region (`us-east-1`, or anything the S3-compatible service expects). */
  region: z.string().min(1, "expected the S3 region"),
  /** The bucket; chunk files live at its root as `{uuid}.chunk`, as in Attic. */
  bucket: z.string().min(1, "expected the S3 bucket name"),
  /**
   * Another S3-compatible service (MinIO, Garage, Ceph RGW, R2, B2...). When set, requests use
   * path-style addressing (`{endpoint}/{bucket}/{key}`), as Attic does.
   */
  endpoint: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  /** Static credentials; when absent, the AWS default chain (environment, profiles, IMDS...). */
  credentials: s3CredentialsSchema.optional(),
  /**
   * attic-ts extension, default false. Some services answer 403 instead of 404 for a missing
   * key when the credentials lack `s3:ListBucket`; setting this maps such 403s to "not found".
   * Off by default because a 403 can just as well mean expired or wrong credentials, and
   * reporting that as a missing blob would hide a broken backend.
   */
  "treat-forbidden-as-missing": z.boolean().default(false),
});

export type S3StorageConfig = z.output<typeof s3StorageConfigSchema>;
export type S3StorageConfigInput = z.input<typeof s3StorageConfigSchema>;
