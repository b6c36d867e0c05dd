import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, ListPartsCommand } from "@aws-sdk/client-s3";
import type { MultipartUpload, S3Client } from "@aws-sdk/client-s3";
import type { LeftoverResult } from "@attic-ts/core";
import { codeOf, isAbort, storageError } from "./s3-errors.ts";

/**
 * Keys this store writes: the engine's `{uuid}.chunk` names at the bucket root (Attic's layout
 * too). The store has no key prefix, so this shape is what tells our uploads from those of
 * anything else sharing the bucket, which are never ours to abort.
 */
export const CHUNK_KEY = /^[0-9a-z-]+\.chunk$/;

export interface StaleUploadOptions {
  client: S3Client;
  bucket: string;
  /** Uploads initiated at or after this instant are left alone (a `put` may still be running). */
  olderThan: Date;
  signal?: AbortSignal;
  /** Uploads and parts asked for per listing page; undefined leaves the service's 1000. */
  pageSize?: number;
}

/**
 * Aborts the multipart uploads that a killed `put` left in the bucket (their parts are stored
 * and billed until aborted) when they were initiated before `olderThan`. Completed objects are
 * a different namespace in S3: AbortMultipartUpload never touches them.
 *
 * Bytes are the parts' sizes from ListParts: one more request per 1000 parts of each aborted
 * upload, and uploads of killed processes are rare, so the count costs little and makes the
 * collector's report say what the bucket really got back. An upload that disappears meanwhile
 * (completed or aborted by someone else) is skipped: not an error, and not counted, since this
 * call freed nothing.
 */
export async function abortStaleUploads(options: StaleUploadOptions): Promise<LeftoverResult> {
  const { bucket, olderThan, signal } = options;
  const removed: LeftoverResult = { files: 0, bytes: 0 };
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await step(signal, `list the multipart uploads of s3://${bucket}`, () =>
      options.client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
          ...(options.pageSize ? { MaxUploads: options.pageSize } : {}),
        }),
        sendOptions(signal),
      ),
    );
    for (const upload of page.Uploads ?? []) {
      if (!isStale(upload, olderThan)) continue;
      const bytes = await abortOne(options, upload.Key!, upload.UploadId!);
      if (bytes === undefined) continue;
      removed.files += 1;
      removed.bytes += bytes;
    }
    // Aborting entries of this page does not move the markers, which name a key and upload id.
    const more = page.IsTruncated === true && (page.NextKeyMarker !== undefined || page.NextUploadIdMarker !== undefined);
    if (more && page.NextKeyMarker === keyMarker && page.NextUploadIdMarker === uploadIdMarker) {
      // A service that answers the same page again would keep this loop going forever.
      throw storageError(`list the multipart uploads of s3://${bucket}`, new Error("the listing did not advance"));
    }
    keyMarker = more ? page.NextKeyMarker : undefined;
    uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
  } while (keyMarker !== undefined || uploadIdMarker !== undefined);
  return removed;
}

function isStale(upload: MultipartUpload, olderThan: Date): boolean {
  if (upload.Key === undefined || upload.UploadId === undefined || !CHUNK_KEY.test(upload.Key)) return false;
  // Without a start time the upload's age is unknown: it might be running, so keep it.
  return upload.Initiated !== undefined && upload.Initiated.getTime() < olderThan.getTime();
}

/** Sums the upload's parts, then aborts it; undefined when the upload was already gone. */
async function abortOne(options: StaleUploadOptions, key: string, uploadId: string): Promise<number | undefined> {
  const { client, bucket, signal } = options;
  const action = `abort the multipart upload ${uploadId} of s3://${bucket}/${key}`;
  let bytes = 0;
  let partMarker: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await stepUnlessGone(signal, action, () =>
      client.send(
        new ListPartsCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          ...(partMarker !== undefined ? { PartNumberMarker: partMarker } : {}),
          ...(options.pageSize ? { MaxParts: options.pageSize } : {}),
        }),
        sendOptions(signal),
      ),
    );
    if (page === undefined) return undefined;
    for (const part of page.Parts ?? []) bytes += part.Size ?? 0;
    const next = page.IsTruncated === true ? page.NextPartNumberMarker : undefined;
    partMarker = next !== undefined && next !== partMarker ? next : undefined;
  } while (partMarker !== undefined);
  signal?.throwIfAborted();
  const aborted = await stepUnlessGone(signal, action, () =>
    client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), sendOptions(signal)),
  );
  return aborted === undefined ? undefined : bytes;
}

/** Runs one request: a cancellation passes through, any other failure becomes a StorageError. */
async function step<T>(signal: AbortSignal | undefined, action: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw failure(err, signal, action);
  }
}

/**
 * S3 says NoSuchUpload for an upload that was completed or aborted; Ceph RGW answers ListParts
 * of such an upload with NoSuchKey instead. Either way the upload is gone (a missing bucket,
 * NoSuchBucket, is a failure, and the listing would have reported it first).
 */
const GONE = new Set(["NoSuchUpload", "NoSuchKey"]);

/** Like `step`, but resolves undefined when the upload no longer exists (see GONE). */
async function stepUnlessGone<T>(signal: AbortSignal | undefined, action: string, send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send();
  } catch (err) {
    if (!signal?.aborted && GONE.has(codeOf(err) ?? "")) return undefined;
    throw failure(err, signal, action);
  }
}

function failure(err: unknown, signal: AbortSignal | undefined, action: string): unknown {
  return isAbort(err, signal) ? (signal?.reason ?? err) : storageError(action, err);
}

function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}
