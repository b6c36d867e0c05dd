import { Readable } from "node:stream";
import type { CachePermission } from "../auth/permission.ts";
import type { Principal } from "../auth/principal.ts";
import type { Clock } from "../clock.ts";
import type { Database } from "../database/database.ts";
import type { CacheRow, ObjectWithNar } from "../database/model.ts";
import { inject, injectable } from "../di/index.ts";
import { BLOB_STORE, CLOCK, COMPRESSOR, DATABASE, NARINFO_CACHE } from "../di/tokens.ts";
import type { Compressor } from "../compression/compressor.ts";
import { IncompleteNarError, NoSuchObjectError, NotFoundError } from "../errors.ts";
import { narInfoFingerprint } from "../nix/fingerprint.ts";
import { serializeNarInfo, serializeNixCacheInfo } from "../nix/narinfo.ts";
import { SignatureCache } from "../nix/signature-cache.ts";
import { SigningKeyCache } from "../nix/signing-key-cache.ts";
import { isValidStorePathHash } from "../nix/store-path.ts";
import { TurnBatcher } from "../util/turn-batcher.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { CacheAccess, requirePermission } from "./cache-access.ts";
import { concatChunkStreams, openStream, ReadAheadPool } from "./concat-chunk-streams.ts";
import { SlotPool } from "../util/slot-pool.ts";
import { chunkPart, narPartSource } from "./nar-part-source.ts";
import type { NarInfoAnswer, NarInfoCache } from "./narinfo-cache.ts";
import { DEFAULT_PART_PAGE_SIZE, eachPart, type PartSource, type StoredPart } from "./part-pages.ts";

/** A binary-cache answer and whether the cache is public (`X-Attic-Cache-Visibility`). */
export interface Served<T> {
  body: T;
  isPublic: boolean;
}

/**
 * A NAR body: streamed by the server, or a URL the client is redirected to. A consumer that
 * knows when it is done with a piece of the stream (its socket write completed) may hand it to
 * `release`, so the memory is reused; one that does not call it loses nothing but that reuse.
 */
export type NarBody = { kind: "stream"; stream: Readable; release?: (piece: Uint8Array) => void } | { kind: "redirect"; url: string };

/**
 * Read-ahead of one multi-chunk NAR download, bytes of chunk files read ahead of the one being
 * sent (Attic opens 2 files ahead). 1 MiB is 16 chunks of Attic's 64 KiB average: enough to
 * keep the I/O threads busy.
 */
export const NAR_READ_AHEAD_BYTES = 1024 * 1024;
/**
 * Read-ahead of all NAR downloads of the process together, bytes (each download may also
 * hold its next file beyond it). Many downloads at once share it, so their memory stays
 * bounded by this and not by how many there are. Smaller is better for memory beyond the
 * bytes themselves: a buffer that waits long enough to survive two young-generation GCs is
 * freed only by a full GC; with 32 downloads of a 64 MiB NAR the peak RSS was 208–220 MiB with
 * 8 MiB here and 175–181 MiB with 2 MiB, at the same total throughput (BENCHMARKS.md).
 */
export const NAR_READ_AHEAD_TOTAL_BYTES = 2 * 1024 * 1024;

/**
 * Chunks of a download read together (with a store that has `readMany`), bytes: one request to
 * the store and one socket write per group instead of per chunk. Also the size of the slots
 * groups are read into (see `SlotPool`).
 */
export const NAR_GROUP_BYTES = 256 * 1024;
/** Slots kept for reuse when no download holds them: 4 MiB. */
export const NAR_FREE_SLOTS = 16;

/**
 * Chunk rows a download reads from the database at once. A NAR with at most this many chunks
 * is listed in one query before its first byte, as Attic does; a longer one a page at a time
 * while it streams, so a download's memory does not grow with the NAR (32 downloads of a
 * 256 MiB NAR held 4,000 chunk rows each).
 */
export const NAR_CHUNK_PAGE = DEFAULT_PART_PAGE_SIZE;

/**
 * Brotli streams cannot be concatenated (unlike zstd frames and xz streams), so Attic serves
 * multi-chunk brotli NARs that no client can decode. We serve those decompressed and say
 * `Compression: none` in their narinfo; single-chunk brotli NARs are served as stored.
 */
function servedAsPlain(compression: string, numChunks: number): boolean {
  return compression === "br" && numChunks > 1;
}

function splitName(file: string, extension: string): string {
  // Attic: anything but exactly "<hash>.<extension>" is a plain 404 (so `.ls`, `.nar.zst` are).
  // Compared in place rather than split: this runs on every narinfo request.
  const dot = file.indexOf(".");
  if (dot < 0 || file.length - dot - 1 !== extension.length || !file.endsWith(extension)) throw new NotFoundError();
  return file.slice(0, dot);
}

/** A narinfo answer once the cache row's permission allows a pull; null when there is no such path. */
async function servedNarInfo({ cache, narInfo }: NarInfoAnswer, permission: CachePermission): Promise<Served<string> | null> {
  requirePermission(permission, "pull");
  return narInfo === null ? null : { body: narInfo, isPublic: cache.isPublic };
}

/** The Nix binary cache protocol: `nix-cache-info`, `<hash>.narinfo`, `nar/<hash>.nar`. */
@injectable()
export class BinaryCacheService {
  readonly #signingKeys = new SigningKeyCache();
  readonly #signatures = new SignatureCache();
  readonly #readAhead = new ReadAheadPool(NAR_READ_AHEAD_TOTAL_BYTES);
  readonly #slots = new SlotPool(NAR_GROUP_BYTES, NAR_FREE_SLOTS);
  /**
   * Narinfo lookups the narinfo cache could not answer, gathered per cache over one turn of
   * the event loop into one statement (a cold lookup was mostly per-query overhead: the
   * connection pool, the driver's hand-off to its thread; BENCHMARKS.md, tenth pass).
   */
  readonly #narInfoLookups = new TurnBatcher<NarInfoAnswer | null>((cacheName, hashes) => this.loadNarInfos(cacheName, hashes));

  constructor(
    @inject(DATABASE) private readonly db: Database,
    @inject(BLOB_STORE) private readonly store: BlobStore,
    @inject(CacheAccess) private readonly access: CacheAccess,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(COMPRESSOR) private readonly compressor: Compressor,
    @inject(NARINFO_CACHE) private readonly narInfos: NarInfoCache,
  ) {}

  async nixCacheInfo(principal: Principal, cacheName: string): Promise<Served<string>> {
    return this.access.withCache(principal, cacheName, async (cache, permission) => {
      requirePermission(permission, "pull");
      const body = serializeNixCacheInfo({ wantMassQuery: true, storeDir: cache.storeDir, priority: cache.priority });
      return { body, isPublic: cache.isPublic };
    });
  }

  /**
   * Looks the object up after checking access. Attic looks first and answers 404 before any
   * auth check, which tells strangers which paths a private cache holds; we check first. One
   * statement fetches the cache row and the object; the object is only used once the
   * permission derived from that cache row allows a pull.
   */
  private async findObject(principal: Principal, cacheName: string, hash: string): Promise<ObjectWithNar> {
    const lookup = isValidStorePathHash(hash)
      ? () => this.db.objects.findCacheObject(cacheName, hash)
      : async () => {
          const cache = await this.db.caches.findCache(cacheName);
          return cache ? { cache, found: null } : null;
        };
    return this.access.withLookup(principal, cacheName, lookup, async ({ found }, permission) => {
      requirePermission(permission, "pull");
      if (!found) throw new NoSuchObjectError();
      return found;
    });
  }

  /**
   * `GET /{cache}/{file}` where file must be `<storePathHash>.narinfo`. The answer for a valid
   * hash comes from the narinfo cache when held; the permission check runs on every request.
   */
  async narInfo(principal: Principal, cacheName: string, file: string): Promise<Served<string>> {
    const served = await this.narInfoOrMiss(principal, cacheName, file);
    // A caller who may pull may also know the cache exists, so this is never collapsed to 401.
    if (served === null) throw new NoSuchObjectError({ discoveryPermission: true });
    return served;
  }

  /**
   * {@link narInfo}, but a path the cache does not hold is answered with null instead of a
   * NoSuchObject rejection (only after the caller's pull permission is checked, as there).
   * Every other failure rejects as `narInfo` does. For hosts that answer many misses: the
   * error object and the rejected promise through the async calls were most of what a miss
   * cost beyond a hit (BENCHMARKS.md, twelfth pass).
   */
  async narInfoOrMiss(principal: Principal, cacheName: string, file: string): Promise<Served<string> | null> {
    const hash = splitName(file, "narinfo");
    const lookup = isValidStorePathHash(hash)
      ? () => this.narInfos.get(cacheName, hash, () => this.#narInfoLookups.load(cacheName, hash))
      : async () => {
          const cache = await this.db.caches.findCache(cacheName);
          return cache ? { cache, narInfo: null } : null;
        };
    return this.access.withLookup(principal, cacheName, lookup, servedNarInfo);
  }

  /** The cache row and the objects in one statement; each narinfo rendered and signed. */
  private async loadNarInfos(cacheName: string, hashes: readonly string[]): Promise<Map<string, NarInfoAnswer | null>> {
    const lookup = await this.db.objects.findCacheObjects(cacheName, hashes);
    const answers = new Map<string, NarInfoAnswer | null>();
    for (const hash of hashes) {
      const found = lookup?.found.get(hash);
      answers.set(hash, lookup ? { cache: lookup.cache, narInfo: found ? this.renderNarInfo(lookup.cache, found) : null } : null);
    }
    return answers;
  }

  private renderNarInfo(cache: CacheRow, { object, nar }: ObjectWithNar): string {
    const fingerprint = narInfoFingerprint({
      storePath: object.storePath,
      narHash: nar.narHash,
      narSize: nar.narSize,
      references: object.references,
    });
    return serializeNarInfo({
      storePath: object.storePath,
      url: `nar/${object.storePathHash}.nar`,
      compression: servedAsPlain(nar.compression, nar.numChunks) ? "none" : nar.compression,
      narHash: nar.narHash,
      narSize: nar.narSize,
      references: object.references,
      ...(object.system !== null ? { system: object.system } : {}),
      ...(object.deriver !== null ? { deriver: object.deriver } : {}),
      sigs: [this.#signatures.get(cache.keypair, fingerprint, () => this.#signingKeys.get(cache.keypair).sign(fingerprint))],
      ...(object.ca !== null ? { ca: object.ca } : {}),
    });
  }

  /**
   * `GET /{cache}/nar/{file}` where file must be `<storePathHash>.nar`. The body is the stored
   * compressed bytes: one chunk may be a redirect (S3), several are concatenated in order.
   */
  async nar(principal: Principal, cacheName: string, file: string, signal?: AbortSignal): Promise<Served<NarBody>> {
    const hash = splitName(file, "nar");
    const { cache, object, nar } = await this.findObject(principal, cacheName, hash);
    const parts = await this.narParts(nar.id, nar.numChunks);
    await this.db.objects.touchObject(object.id, this.clock.now());
    if (Array.isArray(parts) && parts.length === 1) {
      const only = parts[0] as StoredPart;
      const download = await this.store.open(only.ref, {
        preferStream: false,
        ...(signal ? { signal } : {}),
        ...(only.size !== null && only.size !== undefined ? { expectedSize: only.size } : {}),
      });
      const body: NarBody = download.kind === "url" ? { kind: "redirect", url: download.url } : { kind: "stream", stream: download.stream };
      return { body, isPublic: cache.isPublic };
    }
    if (servedAsPlain(nar.compression, nar.numChunks)) {
      const stream = Readable.from(this.decompressed(parts, signal), { objectMode: false });
      return { body: { kind: "stream", stream }, isPublic: cache.isPublic };
    }
    const stream = concatChunkStreams(this.store, parts, {
      readAheadBytes: NAR_READ_AHEAD_BYTES,
      pool: this.#readAhead,
      pageSize: NAR_CHUNK_PAGE,
      slots: this.#slots,
      ...(signal ? { signal } : {}),
    });
    return { body: { kind: "stream", stream, release: (piece) => stream.release(piece) }, isPublic: cache.isPublic };
  }

  /**
   * The stored files of a NAR, or IncompleteNar before any byte is sent when one is missing
   * (Attic's check). A short list is read whole; a long one is checked with one query and
   * then read a page at a time while it streams.
   */
  private async narParts(narId: number, numChunks: number): Promise<readonly StoredPart[] | PartSource> {
    if (numChunks <= NAR_CHUNK_PAGE) {
      const chunks = await this.db.nars.findNarChunks(narId);
      if (chunks.length !== numChunks) throw new IncompleteNarError();
      return chunks.map(chunkPart);
    }
    if (await this.db.nars.narHasMissingChunks(narId)) throw new IncompleteNarError();
    return narPartSource(this.db, narId, numChunks);
  }

  /** Multi-chunk brotli: each stored file decompressed in turn (brotli streams don't concatenate). */
  private async *decompressed(parts: readonly StoredPart[] | PartSource, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const options = signal ? { signal } : {};
    for await (const part of eachPart(parts, NAR_CHUNK_PAGE, signal ?? new AbortController().signal)) {
      yield* this.compressor.decompress("br", await openStream(this.store, part.ref, signal, part.size ?? undefined), options);
    }
  }
}
