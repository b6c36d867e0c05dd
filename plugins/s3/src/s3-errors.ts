import { BlobNotFoundError, StorageError } from "@attic-ts/core";

interface SdkErrorShape {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status of an AWS SDK service error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  return (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** The S3 error code (`NoSuchKey`, `AccessDenied`...) of an SDK error. */
export function codeOf(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.Code ?? e?.name;
}

/** True for a cancellation (ours or the SDK's), which is passed through unchanged. */
export function isAbort(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (err as { name?: string } | undefined)?.name === "AbortError";
}

/**
 * Maps a failed read of `key` to the engine's two outcomes: the object is absent
 * (`BlobNotFoundError`), or the backend failed (`StorageError`). A missing *bucket* is also a
 * 404 but means a misconfigured backend, so it is a StorageError.
 */
export function readError(err: unknown, bucket: string, key: string, treatForbiddenAsMissing: boolean): Error {
  const code = codeOf(err);
  const status = statusOf(err);
  const missing = code === "NoSuchKey" || code === "NotFound" || (status === 404 && code !== "NoSuchBucket");
  if (missing || (treatForbiddenAsMissing && status === 403)) return new BlobNotFoundError(key, { cause: err });
  return storageError(`read s3://${bucket}/${key}`, err);
}

/** A StorageError that names the action and keeps the SDK error as its cause. */
export function storageError(action: string, cause: unknown): StorageError {
  const status = statusOf(cause);
  const detail = `${codeOf(cause) ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${(cause as Error | undefined)?.message ?? String(cause)}`;
  return new StorageError(`S3 storage could not ${action}: ${detail}`, { cause });
}
