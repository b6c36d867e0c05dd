import { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { GetObjectCommandOutput, S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { StorageError } from "@attic-ts/core";
import type { BlobStore, BlobStoreCapabilities, Download, IoOptions, LeftoverResult, ListedBlob, OpenOptions, RemoteFile } from "@attic-ts/core";
import { abortable } from "@attic-ts/core";
import type { S3StorageConfig } from "./config.ts";
import { ResumingReadStream } from "./resuming-read-stream.ts";
import type { ObjectPart } from "./resuming-read-stream.ts";
import { isAbort, readError, storageError } from "./s3-errors.ts";
import { abortStaleUploads } from "./stale-uploads.ts";

/** Multipart part size in bytes (Attic uses 8 MiB as well). */
export const PART_SIZE = 8 * 1024 * 1024;
/**
 * Parts uploaded at once. Memory per upload is about (this + 1) × PART_SIZE, unlike Attic,
 * which starts every part at once and so buffers a whole large NAR.
 */
export const UPLOAD_QUEUE_SIZE = 2;
/** Lifetime of a presigned GET, in seconds (Attic: 600). */
export const PRESIGNED_URL_SECONDS = 600;
/** Ranged re-requests allowed per read after the connection broke (Attic #101). */
export const MAX_READ_RESUMES = 3;

export interface S3BlobStoreOptions {
  /** Called on every S3Client this store makes (tests add middleware here). */
  configureClient?: (client: S3Client, region: string) => void;
  /** Wait before the n-th resumed read: n × this, in milliseconds (default 200). */
  resumeBackoffMs?: number;
  /**
   * Multipart uploads and parts asked for per listing page by `removeLeftovers` (default: the
   * service's 1000). Tests lower it so that a few uploads span several pages.
   */
  leftoverPageSize?: number;
}

/**
 * Chunk files as objects at the root of an S3 bucket, as Attic stores them. References carry
 * region and bucket, so chunks written before a config change stay readable.
 */
export class S3BlobStore implements BlobStore {
  readonly type = "s3";
  readonly capabilities: BlobStoreCapabilities = { presignedUrls: true, list: true };
  readonly config: S3StorageConfig;
  readonly #options: S3BlobStoreOptions;
  /** One client per region; a reference from another region gets its own (cached) client. */
  readonly #clients = new Map<string, S3Client>();

  constructor(config: S3StorageConfig, options: S3BlobStoreOptions = {}) {
    this.config = config;
    this.#options = options;
  }

  /** The client for `region` (default: the configured one), created on first use. */
  client(region: string = this.config.region): S3Client {
    let client = this.#clients.get(region);
    if (!client) {
      const { endpoint, credentials } = this.config;
      const clientConfig: S3ClientConfig = {
        region,
        // Attic PR #262: adaptive retries back off when the service throttles.
        retryMode: "adaptive",
        // Checksums only where S3 demands them: many S3-compatible services (older Ceph RGW,
        // Garage, B2) reject the newer flexible-checksum headers and aws-chunked trailers.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      };
      if (endpoint) {
        clientConfig.endpoint = endpoint;
        clientConfig.forcePathStyle = true;
      }
      if (credentials) {
        clientConfig.credentials = { accessKeyId: credentials.access_key_id, secretAccessKey: credentials.secret_access_key };
      }
      client = new S3Client(clientConfig);
      this.#options.configureClient?.(client, region);
      this.#clients.set(region, client);
    }
    return client;
  }

  refFor(key: string): RemoteFile {
    // A plain Error: keys come from the engine, so a bad one is a bug, not a client error.
    if (key.length === 0 || key.startsWith("/")) throw new Error(`Invalid S3 storage key ${JSON.stringify(key)}.`);
    return { S3: { region: this.config.region, bucket: this.config.bucket, key } };
  }

  /**
   * Streams the body with lib-storage's Upload: one PutObject below PART_SIZE, else a multipart
   * upload with bounded concurrency. A failing or aborted body fails the upload from inside, so
   * Upload aborts the multipart upload before this rejects (its own abort() would reject first
   * and clean up later, leaving pending parts behind for a moment).
   */
  async put(key: string, body: AsyncIterable<Uint8Array>, options: IoOptions = {}): Promise<RemoteFile> {
    const ref = this.refFor(key);
    const { signal } = options;
    signal?.throwIfAborted();
    let sourceError: { error: unknown } | undefined;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield* abortable(body, signal);
      } catch (error) {
        sourceError = { error };
        throw error;
      }
    }
    const readable = Readable.from(source(), { objectMode: false });
    const upload = new Upload({
      client: this.client(),
      params: { Bucket: this.config.bucket, Key: key, Body: readable },
      partSize: PART_SIZE,
      queueSize: UPLOAD_QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      if (sourceError) throw sourceError.error;
      if (isAbort(err, signal) && signal?.aborted) throw signal.reason;
      throw storageError(`write s3://${this.config.bucket}/${key}`, err);
    } finally {
      readable.destroy();
    }
    if (signal?.aborted) {
      // The abort came while the upload completed: honour it, leaving nothing behind.
      await this.delete(ref).catch(() => undefined);
      throw signal.reason;
    }
    return ref;
  }

  /**
   * `put` of bytes held in memory: one PutObject of the bytes, without lib-storage's Upload and
   * a stream around them. An abort that comes while the request runs may come after S3 stored
   * the object, so the key is then deleted (best effort) before this rejects.
   */
  async putBytes(key: string, data: Uint8Array, options: IoOptions = {}): Promise<RemoteFile> {
    const ref = this.refFor(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const command = new PutObjectCommand({ Bucket: this.config.bucket, Key: key, Body: data, ContentLength: data.byteLength });
    let failure: unknown;
    try {
      await this.client().send(command, signal ? { abortSignal: signal } : {});
    } catch (err) {
      failure = err;
    }
    if (signal?.aborted) {
      await this.delete(ref).catch(() => undefined);
      throw signal.reason;
    }
    if (failure !== undefined) throw storageError(`write s3://${this.config.bucket}/${key}`, failure);
    return ref;
  }

  async open(ref: RemoteFile, options: OpenOptions = {}): Promise<Download> {
    const { region, bucket, key } = this.#locate(ref);
    const { signal } = options;
    signal?.throwIfAborted();
    const client = this.client(region);
    if (!options.preferStream) {
      try {
        const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
          expiresIn: PRESIGNED_URL_SECONDS,
        });
        return { kind: "url", url };
      } catch (err) {
        throw storageError(`presign s3://${bucket}/${key}`, err);
      }
    }
    const get = async (start: number, etag: string | undefined, abortSignal: AbortSignal | undefined): Promise<ObjectPart> => {
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(start > 0 ? { Range: `bytes=${start}-` } : {}),
        ...(etag ? { IfMatch: etag } : {}),
      });
      const output: GetObjectCommandOutput = await client.send(command, abortSignal ? { abortSignal } : {});
      return { body: output.Body as Readable, length: output.ContentLength, etag: output.ETag };
    };
    let first: ObjectPart;
    try {
      first = await get(0, undefined, signal);
    } catch (err) {
      if (isAbort(err, signal)) throw signal?.reason ?? err;
      throw readError(err, bucket, key, this.config["treat-forbidden-as-missing"]);
    }
    const stream = new ResumingReadStream(first, (start, etag, resumeSignal) => get(start, etag, resumeSignal), {
      maxResumes: MAX_READ_RESUMES,
      backoffMs: this.#options.resumeBackoffMs ?? 200,
      label: `s3://${bucket}/${key}`,
    });
    if (signal) {
      const onAbort = (): void => {
        stream.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      stream.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    return { kind: "stream", stream };
  }

  /** S3's DeleteObject already succeeds for a missing key. */
  async delete(ref: RemoteFile, options: IoOptions = {}): Promise<void> {
    const { region, bucket, key } = this.#locate(ref);
    options.signal?.throwIfAborted();
    try {
      await this.client(region).send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), options.signal ? { abortSignal: options.signal } : {});
    } catch (err) {
      if (isAbort(err, options.signal)) throw options.signal?.reason ?? err;
      throw storageError(`delete s3://${bucket}/${key}`, err);
    }
  }

  /** Every object in the configured bucket (ListObjectsV2, 1000 per page). */
  async *list(options: IoOptions = {}): AsyncIterable<ListedBlob> {
    const { bucket } = this.config;
    let token: string | undefined;
    do {
      options.signal?.throwIfAborted();
      let page;
      try {
        page = await this.client().send(
          new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }),
          options.signal ? { abortSignal: options.signal } : {},
        );
      } catch (err) {
        if (isAbort(err, options.signal)) throw options.signal?.reason ?? err;
        throw storageError(`list s3://${bucket}`, err);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Aborts the multipart uploads of `put`s that a killed process never finished, when they
   * were initiated before `olderThan` and carry a chunk key (see `abortStaleUploads`). `files`
   * counts the aborted uploads, `bytes` the sizes of their parts. Stored objects are untouched.
   */
  async removeLeftovers(olderThan: Date, options: IoOptions = {}): Promise<LeftoverResult> {
    return abortStaleUploads({
      client: this.client(),
      bucket: this.config.bucket,
      olderThan,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(this.#options.leftoverPageSize ? { pageSize: this.#options.leftoverPageSize } : {}),
    });
  }

  async close(): Promise<void> {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }

  /** Region, bucket and key of a stored reference; anything else is a storage failure. */
  #locate(ref: RemoteFile): { region: string; bucket: string; key: string } {
    if (!("S3" in ref)) throw new StorageError(`S3 storage does not understand the reference ${JSON.stringify(ref)}.`);
    const { region, bucket, key } = ref.S3;
    if (!region || !bucket || !key) throw new StorageError(`Incomplete S3 reference ${JSON.stringify(ref)}.`);
    return { region, bucket, key };
  }
}
