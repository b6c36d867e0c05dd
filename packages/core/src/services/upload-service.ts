import { setMaxListeners } from "node:events";
import type { Principal } from "../auth/principal.ts";
import type { Chunker } from "../chunking/chunker.ts";
import type { Clock } from "../clock.ts";
import type { EngineConfig } from "../config/engine-config.ts";
import type { Database, Repositories } from "../database/database.ts";
import type { CacheRow, NewNar, NewObject } from "../database/model.ts";
import { inject, injectable } from "../di/index.ts";
import { BLOB_STORE, CHUNKER, CLOCK, DATABASE, ENGINE_CONFIG, LOGGER, NARINFO_CACHE } from "../di/tokens.ts";
import { RequestError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { HashingStream } from "../nix/hashing-stream.ts";
import { parseTypedHash, toTypedBase16 } from "../nix/hash.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { LimitedBody } from "../util/limited-body.ts";
import { lentSlices } from "../util/lent-slices.ts";
import { Semaphore } from "../util/semaphore.ts";
import { CacheAccess, requirePermission } from "./cache-access.ts";
import { ChunkWriter } from "./chunk-writer.ts";
import { ChunkBatchWriter, SEEN_SETTLED_LIMIT, type SeenChunks } from "./chunk-batch-writer.ts";
import { validateUploadInfo } from "./validate-upload-info.ts";
import type { NarInfoCache } from "./narinfo-cache.ts";
import type { UploadPathNarInfo, UploadPathResult } from "./upload-types.ts";
import { UploadSession } from "./upload-session.ts";

const BAD_NAR = "Bad NAR Hash or Size";
/**
 * Attic stores 10 chunks at once per request (CONCURRENT_CHUNK_UPLOADS). We store batches of up
 * to 16 chunks (at most BATCH_BYTES), 2 batches at once, so memory per upload is bounded by
 * 2 x BATCH_BYTES whatever the chunk sizes. Each batch costs one database transaction
 * (`UploadSession.claimChunks`), whose cost hardly depends on the batch size, so the number of
 * batches, not the bytes, bounds ingest speed on SQLite's single writer (BENCHMARKS.md).
 */
export const DEFAULT_BATCH_SIZE = 16;
export const DEFAULT_BATCHES_IN_FLIGHT = 2;
const BATCH_BYTES = 2 * 1024 * 1024;
/**
 * A batch that has not filled is stored anyway once no chunk has joined it for this long: the
 * client stalled or sends slowly, and its chunks should not wait for the rest of the body.
 * Batches used to grow 1, 2, 4 ... 16 chunks per NAR instead, which cost a NAR of 2 MiB (the
 * real NARs' average) six transactions where three do: through HTTP, 4 uploads at once, that
 * was 1.4 SQL statements a chunk and 15 % of throughput (BENCHMARKS.md, twentieth pass).
 */
export const STALL_FLUSH_MS = 20;

async function drain(source: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of source);
}

/**
 * `PUT /_api/v1/upload-path`: NAR-level dedup with proof of possession, else a new NAR stored
 * whole (below `nar-size-threshold`) or as content-defined chunks with chunk-level dedup.
 * On any failure, including a dropped client, every row and file this request created is
 * removed before the error propagates.
 */
@injectable()
export class UploadService {
  constructor(
    @inject(DATABASE) private readonly db: Database,
    @inject(BLOB_STORE) private readonly store: BlobStore,
    @inject(CHUNKER) private readonly chunker: Chunker,
    @inject(ChunkWriter) private readonly chunks: ChunkWriter,
    @inject(ChunkBatchWriter) private readonly batches: ChunkBatchWriter,
    @inject(CacheAccess) private readonly access: CacheAccess,
    @inject(ENGINE_CONFIG) private readonly config: EngineConfig,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(NARINFO_CACHE) private readonly narInfos: NarInfoCache,
  ) {}

  /** Chunks per database transaction (find-and-lock, insert, and the previous batches marked valid). */
  batchSize = DEFAULT_BATCH_SIZE;
  /** Batches compressed and stored at once; with `batchSize` it bounds chunks in memory. */
  batchesInFlight = DEFAULT_BATCHES_IN_FLIGHT;
  /** Milliseconds without a new chunk after which a partial batch is stored (see STALL_FLUSH_MS). */
  stallFlushMs = STALL_FLUSH_MS;
  /** Stored chunks an upload remembers for dedup within its NAR (see `SeenChunks`). */
  seenLimit = SEEN_SETTLED_LIMIT;

  async uploadPath(
    principal: Principal,
    rawInfo: unknown,
    body: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<UploadPathResult> {
    const info = validateUploadInfo(rawInfo);
    const narHash = toTypedBase16(parseTypedHash(info.nar_hash));
    try {
      return await this.ingest(principal, info, narHash, body, signal);
    } finally {
      // Also after a failure: a commit may have landed before the error.
      this.narInfos.invalidatePath(info.cache, info.store_path_hash);
    }
  }

  private ingest(
    principal: Principal,
    info: UploadPathNarInfo,
    narHash: string,
    body: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<UploadPathResult> {
    return this.access.withCache(principal, info.cache, async (cache, permission) => {
      requirePermission(permission, "push");
      const session = new UploadSession(this.db, this.store, this.logger, {
        leaseSeconds: this.config["garbage-collection"]["upload-lease-period"],
        clock: this.clock,
      });
      try {
        const threshold = this.config.chunking["nar-size-threshold"];
        const chunked = threshold !== 0 && info.nar_size >= threshold;
        // A chunked upload's pending NAR is inserted by the same transaction that looks for the
        // NAR, when there is none (one transaction less per upload).
        const { existing, pendingNarId } = await session.begin(narHash, chunked ? this.pendingNar(narHash, info.nar_size) : undefined);
        if (existing) {
          if (!(await this.db.nars.narHasMissingChunks(existing.id))) {
            return await this.dedup(cache, principal, info, existing.id, existing.narSize, narHash, body, signal);
          }
        }
        const limited = new LimitedBody(body, info.nar_size);
        if (!chunked) return await this.uploadWhole(session, cache, principal, info, narHash, limited, signal);
        const narId = pendingNarId ?? (await session.insertPendingNar(this.pendingNar(narHash, info.nar_size)));
        return await this.uploadChunked(session, narId, cache, principal, info, narHash, limited, signal);
      } finally {
        await session.release();
      }
    });
  }

  private pendingNar(narHash: string, narSize: number): NewNar {
    return { state: "P", narHash, narSize, compression: this.chunks.compression, numChunks: 0, createdAt: this.clock.now() };
  }

  private objectRow(cache: CacheRow, principal: Principal, info: UploadPathNarInfo, narId: number): NewObject {
    return {
      cacheId: cache.id,
      narId,
      storePathHash: info.store_path_hash,
      storePath: info.store_path,
      references: info.references,
      deriver: info.deriver,
      sigs: info.sigs,
      ca: info.ca,
      createdAt: this.clock.now(),
      createdBy: principal.sub,
    };
  }

  private async dedup(
    cache: CacheRow,
    principal: Principal,
    info: UploadPathNarInfo,
    narId: number,
    storedSize: number,
    narHash: string,
    body: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<UploadPathResult> {
    if (this.config["require-proof-of-possession"]) {
      // Read one byte past the claim at most: enough to tell a longer body from a matching one.
      const hashing = new HashingStream(new LimitedBody(body, info.nar_size + 1), { signal });
      await drain(hashing);
      const ok = toTypedBase16(hashing.digest()) === narHash && hashing.size === info.nar_size && hashing.size === storedSize;
      if (!ok) throw new RequestError(BAD_NAR);
    }
    await this.db.objects.upsertObject(this.objectRow(cache, principal, info, narId));
    return { kind: "Deduplicated", frac_deduplicated: null };
  }

  /**
   * The commit of a new NAR: unless a racing upload committed a NAR with the same hash first,
   * `makeValid` makes ours valid; either way the object points at the NAR that won. Resolves to
   * the racing NAR's id when ours lost, else null.
   */
  private async commitNar(
    session: UploadSession,
    narHash: string,
    cache: CacheRow,
    principal: Principal,
    info: UploadPathNarInfo,
    makeValid: (tx: Repositories) => Promise<number>,
  ): Promise<number | null> {
    // Fails, committing nothing, if garbage collection took our holds; closes the lease.
    return session.commit(async (tx) => {
      const racing = await tx.nars.claimNarHash(narHash);
      // The object written below protects the winner once committed: no hold is kept on it.
      if (racing) await tx.nars.releaseNar(racing.id);
      const narId = racing ? racing.id : await makeValid(tx);
      await tx.objects.upsertObject(this.objectRow(cache, principal, info, narId));
      return racing ? racing.id : null;
    });
  }

  /**
   * A racing upload of the same NAR committed first (seen inside our commit transaction): the
   * object now points at its NAR, and what this request stored is removed, so concurrent pushes
   * of one path end with exactly one NAR row. The client gets Attic's "Deduplicated".
   */
  private async lostRace(session: UploadSession): Promise<UploadPathResult> {
    await session.abandon();
    return { kind: "Deduplicated", frac_deduplicated: null };
  }

  private async uploadWhole(
    session: UploadSession,
    cache: CacheRow,
    principal: Principal,
    info: UploadPathNarInfo,
    narHash: string,
    body: LimitedBody,
    signal?: AbortSignal,
  ): Promise<UploadPathResult> {
    try {
      const chunk = await this.chunks.write(
        session,
        body,
        { chunkHash: narHash, chunkSize: info.nar_size, trusted: false, mismatchMessage: BAD_NAR },
        signal,
      );
      if (body.excess) throw new RequestError(BAD_NAR);
      const winner = await this.commitNar(session, narHash, cache, principal, info, async (tx) => {
        const narId = await tx.nars.insertNar({
          state: "V",
          narHash,
          narSize: info.nar_size,
          compression: this.chunks.compression,
          numChunks: 1,
          createdAt: this.clock.now(),
        });
        await tx.nars.insertChunkRefs(narId, [chunk.id]);
        return narId;
      });
      if (winner !== null) return await this.lostRace(session);
      return { kind: "Uploaded", file_size: chunk.fileSize, frac_deduplicated: null };
    } catch (err) {
      await session.abandon();
      throw err;
    }
  }

  private async uploadChunked(
    session: UploadSession,
    narId: number,
    cache: CacheRow,
    principal: Principal,
    info: UploadPathNarInfo,
    narHash: string,
    body: LimitedBody,
    signal?: AbortSignal,
  ): Promise<UploadPathResult> {
    // Batch tasks get their own signal so a failure in one stops the others.
    const stop = new AbortController();
    // Every chunk in flight listens on it (compressor, storage, hashing): not a leak.
    setMaxListeners(this.batchesInFlight * this.batchSize * 8 + 16, stop.signal);
    const onAbort = () => stop.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const inFlight = new Semaphore(this.batchesInFlight);
    const seen: SeenChunks = new Map();
    // Batches not yet finished (each removes itself), so nothing here grows with the NAR.
    const tasks = new Set<Promise<void>>();
    const chunkIds: number[] = [];
    let fileSize = 0;
    let dedupBytes = 0;
    let failure: unknown;
    let stallTimer: NodeJS.Timeout | undefined;
    const launch = async (batch: Uint8Array[], firstSeq: number) => {
      await inFlight.acquire(stop.signal);
      if (failure !== undefined) throw failure;
      const task = this.batches
        .writeBatch(session, batch, seen, stop.signal, this.seenLimit)
        .then((written) => {
          written.forEach((w, i) => {
            chunkIds[firstSeq + i] = w.id;
            // Attic reports the stored size of every chunk, deduplicated or not.
            fileSize += w.fileSize;
            if (w.deduplicated) dedupBytes += batch[i]!.length;
          });
          // Stored or deduplicated, every chunk of the batch is done with: its buffer is reused.
          // A failed batch keeps its buffers (a write may still be running).
          for (const data of batch) this.batches.buffers.give(data);
        })
        .catch((err: unknown) => {
          failure ??= err;
          stop.abort(err);
        })
        .finally(() => {
          inFlight.release();
          tasks.delete(task);
        });
      tasks.add(task);
    };
    try {
      // The chunker is done with a slice when it pulls the next (the Chunker contract).
      const hashing = new HashingStream(lentSlices(body, this.batches.buffers), { signal });
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      let seq = 0;
      const launchBatch = (): Promise<void> => {
        const full = batch;
        const firstSeq = seq;
        seq += full.length;
        batch = [];
        batchBytes = 0;
        return launch(full, firstSeq);
      };
      // A batch is stored once full, or once no chunk has joined it for STALL_FLUSH_MS, so a
      // slow or stalled client's chunks are stored as they come while a fast one's go 16 to a
      // transaction (see STALL_FLUSH_MS).
      let stalled: Promise<void> | undefined;
      stallTimer = setTimeout(() => {
        if (batch.length === 0) return;
        stalled = launchBatch();
        stalled.catch(() => {}); // awaited by the loop, or ended by the abort that failed the upload
      }, this.stallFlushMs).unref();
      for await (const data of this.chunker.chunk(hashing, { signal: stop.signal, allocate: this.batches.buffers.take })) {
        // The stall's batch holds a place in flight like any other: wait for it first.
        if (stalled !== undefined) {
          const waiting = stalled;
          stalled = undefined;
          await waiting;
        }
        batch.push(data);
        batchBytes += data.length;
        if (batch.length >= this.batchSize || batchBytes >= BATCH_BYTES) await launchBatch();
        else stallTimer.refresh();
      }
      clearTimeout(stallTimer);
      if (stalled !== undefined) await stalled;
      if (batch.length > 0) await launchBatch();
      await Promise.all([...tasks]);
      if (failure !== undefined) throw failure;
      if (toTypedBase16(hashing.digest()) !== narHash || hashing.size !== info.nar_size || body.excess) {
        throw new RequestError(BAD_NAR);
      }
      const winner = await this.commitNar(session, narHash, cache, principal, info, async (tx) => {
        await tx.nars.insertChunkRefs(narId, chunkIds);
        await tx.nars.markNarValid(narId, chunkIds.length);
        return narId;
      });
      if (winner !== null) {
        await this.db.nars.deleteNar(narId);
        return await this.lostRace(session);
      }
      const frac = info.nar_size === 0 ? 0 : dedupBytes / info.nar_size;
      return { kind: "Uploaded", file_size: fileSize, frac_deduplicated: frac };
    } catch (err) {
      stop.abort(err);
      await Promise.allSettled([...tasks]);
      await this.db.nars.deleteNar(narId).catch((e: unknown) => this.logger.warn({ err: e, narId }, "could not delete a failed NAR"));
      await session.abandon();
      throw failure ?? err;
    } finally {
      clearTimeout(stallTimer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
