import type { RemoteFile } from "../storage/remote-file.ts";

/** One-character row states, as in Attic's `state` columns. */
export type RowState = "V" | "P" | "C" | "D";
export const RowState = {
  Valid: "V",
  PendingUpload: "P",
  ConfirmedDeduplicated: "C",
  Deleted: "D",
} as const satisfies Record<string, RowState>;

/** Compression names as stored in `nar.compression`/`chunk.compression` and the narinfo. */
export type CompressionType = "none" | "br" | "zstd" | "xz";

export interface CacheRow {
  id: number;
  name: string;
  /** Nix secret-key format `name:base64(seed ‖ public)`. */
  keypair: string;
  isPublic: boolean;
  storeDir: string;
  priority: number;
  upstreamCacheKeyNames: string[];
  createdAt: Date;
  deletedAt: Date | null;
  /** Seconds; null = the global default; 0 = never expire. */
  retentionPeriod: number | null;
}

export interface NarRow {
  id: number;
  state: RowState;
  /** `sha256:<64 hex>` of the uncompressed NAR. */
  narHash: string;
  /** Bytes of the uncompressed NAR. */
  narSize: number;
  compression: CompressionType;
  numChunks: number;
  holdersCount: number;
  createdAt: Date;
}

export interface ObjectRow {
  id: number;
  cacheId: number;
  narId: number;
  /** The 32-character nix-base32 hash part of the store path. */
  storePathHash: string;
  storePath: string;
  /** Base names (no store dir) of the references. */
  references: string[];
  system: string | null;
  deriver: string | null;
  sigs: string[];
  ca: string | null;
  createdAt: Date;
  lastAccessedAt: Date | null;
  /** The `sub` of the token that uploaded it. */
  createdBy: string | null;
}

export interface ChunkRow {
  id: number;
  state: RowState;
  /** `sha256:<hex>` of the uncompressed chunk. */
  chunkHash: string;
  /** Uncompressed bytes. */
  chunkSize: number;
  /** `sha256:<hex>` of the stored (compressed) file; null while pending. */
  fileHash: string | null;
  /** Stored bytes; null while pending. */
  fileSize: number | null;
  compression: CompressionType;
  remoteFile: RemoteFile;
  remoteFileId: string;
  holdersCount: number;
  createdAt: Date;
}

export type NewCache = Omit<CacheRow, "id" | "deletedAt">;
export type CachePatch = Partial<
  Pick<CacheRow, "keypair" | "isPublic" | "storeDir" | "priority" | "upstreamCacheKeyNames" | "retentionPeriod">
>;
export type NewNar = Omit<NarRow, "id" | "holdersCount">;
export type NewObject = Omit<ObjectRow, "id" | "lastAccessedAt" | "system"> & { system?: string | null };
export type NewChunk = Pick<ChunkRow, "chunkHash" | "chunkSize" | "compression" | "remoteFile" | "remoteFileId" | "createdAt">;

/** An object with its cache and (valid) NAR: what narinfo and NAR requests look up. */
export interface ObjectWithNar {
  cache: CacheRow;
  object: ObjectRow;
  nar: NarRow;
}

/**
 * A live cache and, when it holds the looked-up store path hash with a valid NAR, that object:
 * what `ObjectRepository.findCacheObject` returns, so a narinfo request costs one query.
 */
export interface CacheObjectLookup {
  cache: CacheRow;
  /** The object with its NAR, or null when the cache has no such object (or its NAR is not valid). */
  found: ObjectWithNar | null;
}

/** What `ObjectRepository.findCacheObjects` returns for a live cache. */
export interface CacheObjectsLookup {
  cache: CacheRow;
  /** By store path hash: the asked-for objects the cache holds with a valid NAR. */
  found: Map<string, ObjectWithNar>;
}
