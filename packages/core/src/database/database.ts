import type { IoOptions } from "../storage/blob-store.ts";
import type {
  CacheObjectLookup,
  CacheObjectsLookup,
  CachePatch,
  CacheRow,
  ChunkRow,
  CompressionType,
  NarRow,
  NewCache,
  NewChunk,
  NewNar,
  NewObject,
  ObjectWithNar,
} from "./model.ts";

export interface CacheRepository {
  /** The live (not soft-deleted) cache of that name, or null. */
  findCache(name: string): Promise<CacheRow | null>;
  /** Inserts a cache; false when the name is taken, also by a soft-deleted cache. */
  insertCache(cache: NewCache): Promise<boolean>;
  /** Applies the patch to a live cache; false when there is none with that id. */
  updateCache(id: number, patch: CachePatch): Promise<boolean>;
  /**
   * Soft-deletes (sets `deleted_at`) or deletes the live cache with that id (cascading to its
   * objects). False when no live cache had that id (a racing destroy).
   */
  destroyCache(id: number, mode: { soft: boolean; now: Date }): Promise<boolean>;
}

/** A slice of a NAR's chunk list by `seq`: `from` (0-based) and at most `limit` entries. */
export interface ChunkRange {
  from: number;
  limit: number;
}

export interface NarRepository {
  /**
   * Finds a valid NAR with that hash and increments its `holders_count` atomically, so GC
   * leaves it alone until `releaseNar`. Null when there is none.
   */
  findAndLockNar(narHash: string): Promise<NarRow | null>;
  /** Decrements `holders_count` (never below zero). */
  releaseNar(id: number): Promise<void>;
  /**
   * For use inside the transaction that commits a new NAR: serialises commits of NARs with this
   * hash (a transaction-scoped advisory lock on Postgres; SQLite runs one write transaction at a
   * time), then finds a valid NAR with that hash and no missing chunk, committed by a racing
   * upload, and locks it like `findAndLockNar`. Null when there is none: the caller's NAR wins.
   */
  claimNarHash(narHash: string): Promise<NarRow | null>;
  /** True when a chunk of that NAR is missing (chunkref without a valid chunk). */
  narHasMissingChunks(narId: number): Promise<boolean>;
  insertNar(nar: NewNar): Promise<number>;
  /** Deletes a NAR row; its chunkrefs cascade and its objects cascade. */
  deleteNar(id: number): Promise<void>;
  /** Records the ordered chunk list of a NAR (`seq` 0..n-1 in array order). */
  insertChunkRefs(narId: number, chunkIds: readonly number[]): Promise<void>;
  /** Sets a pending NAR valid with its final chunk count. */
  markNarValid(id: number, numChunks: number): Promise<void>;
  /**
   * The chunks of a NAR in `seq` order; null where a chunk is missing or not valid (the NAR
   * is then incomplete). With `range`, only the chunk references with `seq` in
   * `[range.from, range.from + range.limit)`: downloads read a long list a page at a time, so
   * their memory does not grow with the NAR.
   */
  findNarChunks(narId: number, range?: ChunkRange): Promise<Array<ChunkRow | null>>;
}

export interface ChunkRepository {
  /**
   * Finds a valid chunk with that hash and compression and increments its `holders_count`
   * atomically. Null when there is none.
   */
  findAndLockChunk(chunkHash: string, compression: CompressionType): Promise<ChunkRow | null>;
  /**
   * Inserts a chunk in state `P` with `holders_count = 1`: the inserting upload holds it from
   * birth, so neither GC nor another upload's cleanup can take it.
   */
  insertPendingChunk(chunk: NewChunk): Promise<number>;
  /** Sets a pending chunk valid with its stored file's hash and size. */
  markChunkValid(id: number, file: { fileHash: string; fileSize: number }): Promise<void>;
  /**
   * Batch form of `findAndLockChunk` for one upload's next chunks: at most one valid chunk per
   * distinct hash, each locked once. Keys of the map are the hashes found.
   */
  findAndLockChunks(chunkHashes: readonly string[], compression: CompressionType): Promise<Map<string, ChunkRow>>;
  /** Batch form of `insertPendingChunk`; ids in input order. */
  insertPendingChunks(chunks: readonly NewChunk[]): Promise<number[]>;
  /** Batch form of `markChunkValid`. */
  markChunksValid(files: ReadonlyArray<{ id: number; fileHash: string; fileSize: number }>): Promise<void>;
  /** Decrements `holders_count` of each id (an id listed twice is decremented twice). */
  releaseChunks(ids: readonly number[]): Promise<void>;
  /**
   * Deletes the chunk row if nobody holds it and no chunkref points at it. True when the row
   * was deleted, so the caller must delete its storage file.
   */
  deleteChunkIfUnused(id: number): Promise<boolean>;
}

export interface ObjectRepository {
  /**
   * Inserts or replaces the object at (cache, store path hash): Attic's upsert, which resets
   * `created_at` and clears `last_accessed_at`.
   */
  upsertObject(object: NewObject): Promise<void>;
  /** The object in a live cache whose NAR is valid, or null. */
  findObject(cacheName: string, storePathHash: string): Promise<ObjectWithNar | null>;
  /**
   * The live cache of that name and, in the same statement, the object at `storePathHash` in it
   * with its valid NAR (`found` null when there is none). Null when there is no live cache. It
   * lets a narinfo lookup tell "no such cache" from "no such object" with one round trip.
   */
  findCacheObject(cacheName: string, storePathHash: string): Promise<CacheObjectLookup | null>;
  /**
   * `findCacheObject` for many hashes in one statement: the live cache and, by store path hash,
   * those of `storePathHashes` it holds with a valid NAR (absent ones are left out). Null when
   * there is no live cache. Narinfo lookups that arrive together share one round trip.
   */
  findCacheObjects(cacheName: string, storePathHashes: readonly string[]): Promise<CacheObjectsLookup | null>;
  /** Of `storePathHashes`, those present in the live cache with a valid NAR (batched). */
  findPresentPaths(cacheName: string, storePathHashes: readonly string[]): Promise<string[]>;
  /** Sets `last_accessed_at`. */
  touchObject(id: number, now: Date): Promise<void>;
}

/**
 * Garbage collection queries (Attic's `gc.rs`, plus reclaiming rows a crashed upload left
 * pending). Each batch call is one statement: on Postgres its rows are picked with
 * `FOR UPDATE SKIP LOCKED`, so a racing upload's find-and-lock either wins or sees them gone.
 */
export interface GcRepository {
  /**
   * Every cache, soft-deleted ones included, whose `COALESCE(retention_period, defaultSeconds)`
   * is not 0, with that effective retention in seconds.
   */
  cachesWithRetention(defaultSeconds: number): Promise<Array<{ cacheId: number; retentionSeconds: number }>>;
  /**
   * Deletes the cache's objects created before `cutoff` and not accessed since (`last_accessed_at`
   * NULL or before `cutoff`). Returns how many were deleted.
   */
  expireObjects(cacheId: number, cutoff: Date): Promise<number>;
  /** Deletes up to `limit` valid, unheld NARs no object points at (chunkrefs cascade). Returns the count. */
  deleteOrphanNars(limit: number): Promise<number>;
  /**
   * Deletes up to `limit` NARs still pending (`P`) that were created before `olderThan`: left
   * by an upload that died (Attic #64). Their chunkrefs and objects cascade. Returns the count.
   */
  deleteStalePendingNars(olderThan: Date, limit: number): Promise<number>;
  /**
   * Sets state `D` on up to `limit` chunks that no chunkref points at and that are either valid
   * with `holders_count = 0`, or pending (`P`) and created before `pendingOlderThan` whatever
   * their `holders_count` (a crashed upload's hold never drops). Returns the count.
   */
  markOrphanChunksDeleted(pendingOlderThan: Date, limit: number): Promise<number>;
  /** Up to `limit` chunks in state `D` with an id above `afterId` (default 0), in id order. */
  chunksToDelete(limit: number, afterId?: number): Promise<ChunkRow[]>;
  /** Deletes those chunk rows that are still in state `D`. Returns how many were deleted. */
  deleteChunkRows(ids: readonly number[]): Promise<number>;
  /**
   * Closes up to `limit` upload leases that expired before `now` (their upload died or stalled):
   * each of their holds is given back (`holders_count` decremented once per hold) and dropped,
   * in one transaction per batch, so a renewal racing it either wins or finds the lease gone.
   * Returns how many leases and holds were dropped.
   */
  reapExpiredLeases(now: Date, limit: number): Promise<{ leases: number; holds: number }>;
  /**
   * Of `remoteFileIds`, those some chunk row (any state) records (batched lookups on the unique
   * `remote_file_id` index). The storage sweep deletes only files whose id is not returned.
   */
  referencedFiles(remoteFileIds: readonly string[]): Promise<Set<string>>;
  /**
   * Whether some chunk row (any state) records a `remote_file_id` that does not start with
   * `prefix`: a file written under other storage settings (another region string for the same
   * bucket, another backend). The sweep, which looks files up by their id under the current
   * settings, would take such files for unreferenced, so it does not run while any exist.
   */
  hasFilesOutside(prefix: string): Promise<boolean>;
}

/**
 * Holds taken under an upload's lease (attic-ts tables `attic_ts_lease`, `attic_ts_lease_hold`).
 * Each hold increments the row's `holders_count`, as Attic's find-and-lock does, and is recorded
 * under the lease in the same transaction. The upload renews the lease while it runs; when it
 * stops renewing (a crash), garbage collection gives the holds back (Attic #66: counters that
 * leak), so a dead upload cannot pin rows forever.
 *
 * A method that takes holds throws `UploadLeaseLostError`, taking none, when the lease is gone.
 * Called through `Database.transaction`'s repositories, every method runs in that transaction
 * (all or nothing with the rest of it) rather than in one of its own.
 */
export interface LeaseRepository {
  /** Opens a lease valid until `expiresAt`. Returns its id. */
  openLease(expiresAt: Date): Promise<number>;
  /** Moves the lease's expiry to `expiresAt`. False when it is gone: its holds were reaped. */
  renewLease(id: number, expiresAt: Date): Promise<boolean>;
  /** `ChunkRepository.findAndLockChunk` with the hold recorded under the lease. */
  findAndLockChunk(leaseId: number, chunkHash: string, compression: CompressionType): Promise<ChunkRow | null>;
  /** `ChunkRepository.findAndLockChunks` with the holds recorded under the lease. */
  findAndLockChunks(leaseId: number, chunkHashes: readonly string[], compression: CompressionType): Promise<Map<string, ChunkRow>>;
  /** `ChunkRepository.insertPendingChunks` (held from birth) with the holds under the lease. */
  insertPendingChunks(leaseId: number, chunks: readonly NewChunk[]): Promise<number[]>;
  /** `NarRepository.findAndLockNar` with the hold recorded under the lease. */
  findAndLockNar(leaseId: number, narHash: string): Promise<NarRow | null>;
  /** Inserts a pending NAR with `holders_count = 1`, that hold recorded under the lease. */
  insertPendingNar(leaseId: number, nar: NewNar): Promise<number>;
  /** Gives back every hold of the lease (once each) and deletes it. A reaped lease is a no-op. */
  closeLease(id: number): Promise<void>;
}

/** The database-wide collector lock (`Database.tryAcquireGcLock`). */
export interface GcLock {
  /** Lets go of the lock. Idempotent. */
  release(): Promise<void>;
}

export interface Repositories {
  readonly caches: CacheRepository;
  readonly nars: NarRepository;
  readonly chunks: ChunkRepository;
  readonly objects: ObjectRepository;
  readonly gc: GcRepository;
  readonly leases: LeaseRepository;
}

/** The metadata database. Its repositories run outside a transaction (autocommit). */
export interface Database extends Repositories {
  /** Which dialect this is (`sqlite`, `postgres`). */
  readonly kind: string;
  /** Applies pending migrations (Attic's names); a second call is a no-op. */
  migrate(options?: IoOptions): Promise<void>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /**
   * Takes the lock that lets one garbage collector run at a time across every server sharing
   * this database, or resolves null at once when another collector has it. PostgreSQL: a
   * session advisory lock on a connection held until `release` (freed by the server if the
   * process dies). SQLite: a lease row renewed while held, taken over once it expires.
   */
  tryAcquireGcLock(): Promise<GcLock | null>;
  close(): Promise<void>;
}
