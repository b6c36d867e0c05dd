import { DatabaseError } from "@attic-ts/core";
import type { CacheRow, ChunkRow, CompressionType, NarRow, NewChunk, ObjectRow, RemoteFile, RowState } from "@attic-ts/core";
import type { Dialect } from "./dialect.ts";

/** A row as the driver returns it. */
export type DbRecord = Record<string, unknown>;

/** Column names per table (current schema), used for prefixed selects in joins. */
export const CACHE_COLUMNS = [
  "id", "name", "keypair", "is_public", "store_dir", "priority", "upstream_cache_key_names",
  "created_at", "deleted_at", "retention_period",
] as const;
export const NAR_COLUMNS = [
  "id", "state", "nar_hash", "nar_size", "compression", "num_chunks", "holders_count", "created_at",
] as const;
export const OBJECT_COLUMNS = [
  "id", "cache_id", "nar_id", "store_path_hash", "store_path", "references", "system", "deriver",
  "sigs", "ca", "created_at", "last_accessed_at", "created_by",
] as const;
export const CHUNK_COLUMNS = [
  "id", "state", "chunk_hash", "chunk_size", "file_hash", "file_size", "compression", "remote_file",
  "remote_file_id", "holders_count", "created_at",
] as const;

/** `table.col as PREFIXcol` for every column, so joined tables do not clash. */
export function prefixedColumns(table: string, columns: readonly string[], prefix: string): string[] {
  return columns.map((c) => `${table}.${c} as ${prefix}${c}`);
}

/** pg returns bigint columns and counts as strings; SQLite returns numbers. */
export function toNumber(value: unknown): number {
  const n = Number(value);
  if (value === null || value === undefined || Number.isNaN(n)) {
    throw new DatabaseError(`Expected a number from the database, got ${String(value)}`);
  }
  return n;
}

function toNullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

function toNullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** SQLite stores booleans as 0/1; pg returns JS booleans. */
function toBoolean(value: unknown): boolean {
  return value === true || value === 1 || value === "1" || value === "t" || value === "true";
}

function parseJson<T>(value: unknown, column: string): T {
  try {
    return JSON.parse(String(value)) as T;
  } catch (err) {
    throw new DatabaseError(`Column ${column} does not hold valid JSON`, { cause: err });
  }
}

function parseStringArray(value: unknown, column: string): string[] {
  const parsed = parseJson<unknown>(value, column);
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === "string")) {
    throw new DatabaseError(`Column ${column} does not hold a JSON array of strings`);
  }
  return parsed;
}

export function mapCache(row: DbRecord, d: Dialect, p = ""): CacheRow {
  return {
    id: toNumber(row[`${p}id`]),
    name: String(row[`${p}name`]),
    keypair: String(row[`${p}keypair`]),
    isPublic: toBoolean(row[`${p}is_public`]),
    storeDir: String(row[`${p}store_dir`]),
    priority: toNumber(row[`${p}priority`]),
    upstreamCacheKeyNames: parseStringArray(row[`${p}upstream_cache_key_names`], "cache.upstream_cache_key_names"),
    createdAt: d.fromDbTimestamp(row[`${p}created_at`]),
    deletedAt: row[`${p}deleted_at`] == null ? null : d.fromDbTimestamp(row[`${p}deleted_at`]),
    retentionPeriod: toNullableNumber(row[`${p}retention_period`]),
  };
}

export function mapNar(row: DbRecord, d: Dialect, p = ""): NarRow {
  return {
    id: toNumber(row[`${p}id`]),
    state: String(row[`${p}state`]) as RowState,
    narHash: String(row[`${p}nar_hash`]),
    narSize: toNumber(row[`${p}nar_size`]),
    compression: String(row[`${p}compression`]) as CompressionType,
    numChunks: toNumber(row[`${p}num_chunks`]),
    holdersCount: toNumber(row[`${p}holders_count`]),
    createdAt: d.fromDbTimestamp(row[`${p}created_at`]),
  };
}

export function mapObject(row: DbRecord, d: Dialect, p = ""): ObjectRow {
  return {
    id: toNumber(row[`${p}id`]),
    cacheId: toNumber(row[`${p}cache_id`]),
    narId: toNumber(row[`${p}nar_id`]),
    storePathHash: String(row[`${p}store_path_hash`]),
    storePath: String(row[`${p}store_path`]),
    references: parseStringArray(row[`${p}references`], "object.references"),
    system: toNullableString(row[`${p}system`]),
    deriver: toNullableString(row[`${p}deriver`]),
    sigs: parseStringArray(row[`${p}sigs`], "object.sigs"),
    ca: toNullableString(row[`${p}ca`]),
    createdAt: d.fromDbTimestamp(row[`${p}created_at`]),
    lastAccessedAt: row[`${p}last_accessed_at`] == null ? null : d.fromDbTimestamp(row[`${p}last_accessed_at`]),
    createdBy: toNullableString(row[`${p}created_by`]),
  };
}

export function mapChunk(row: DbRecord, d: Dialect, p = ""): ChunkRow {
  return {
    id: toNumber(row[`${p}id`]),
    state: String(row[`${p}state`]) as RowState,
    chunkHash: String(row[`${p}chunk_hash`]),
    chunkSize: toNumber(row[`${p}chunk_size`]),
    fileHash: toNullableString(row[`${p}file_hash`]),
    fileSize: toNullableNumber(row[`${p}file_size`]),
    compression: String(row[`${p}compression`]) as CompressionType,
    remoteFile: parseJson<RemoteFile>(row[`${p}remote_file`], "chunk.remote_file"),
    remoteFileId: String(row[`${p}remote_file_id`]),
    holdersCount: toNumber(row[`${p}holders_count`]),
    createdAt: d.fromDbTimestamp(row[`${p}created_at`]),
  };
}

/** A new chunk row, pending and held by its inserter from birth (so GC and other cleanups leave it alone). */
export function pendingChunkRecord(chunk: NewChunk, dialect: Dialect): DbRecord {
  return {
    state: "P",
    chunk_hash: chunk.chunkHash,
    chunk_size: chunk.chunkSize,
    file_hash: null,
    file_size: null,
    compression: chunk.compression,
    remote_file: JSON.stringify(chunk.remoteFile),
    remote_file_id: chunk.remoteFileId,
    holders_count: 1,
    created_at: dialect.toDbTimestamp(chunk.createdAt),
  };
}
