import type { Database, Repositories } from "../database/database.ts";
import type { CompressionType, NewCache, NewChunk, NewNar, NewObject, RowState } from "../database/model.ts";
import { remoteFileId, type RemoteFile } from "../storage/remote-file.ts";

// Row builders for the database conformance suite. Every name and hash carries a per-run
// prefix, so the suite also works against a shared database.

const NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz";
let counter = 0;
const run = Math.floor(Math.random() * 0x7fffffff).toString(36);

/** A fresh unique token for names and keys. */
export function unique(label: string): string {
  counter += 1;
  return `${label}-${run}-${counter}`;
}

/**
 * A 32-character nix-base32 store path hash: the same for the same `(n, salt)` within a run,
 * distinct for distinct `n` (the first 8 characters encode it).
 */
export function storePathHash(n: number, salt = 0): string {
  let out = "";
  let x = n;
  let y = (Math.imul(salt + 1, 2654435761) ^ parseInt(run, 36)) >>> 0;
  for (let i = 0; i < 32; i++) {
    if (i < 8) {
      out += NIX_BASE32[x % 32];
      x = Math.floor(x / 32);
    } else {
      y = (Math.imul(y, 1664525) + 1013904223) >>> 0;
      out += NIX_BASE32[y >>> 27];
    }
  }
  return out;
}

/** `sha256:` + 64 hex characters, unique per call. */
export function sha256Like(): string {
  const hex = Buffer.from(unique("h")).toString("hex");
  return `sha256:${hex.padEnd(64, "0").slice(0, 64)}`;
}

export function cacheRow(name = unique("cache"), overrides: Partial<NewCache> = {}): NewCache {
  return {
    name,
    keypair: `${name}:${Buffer.alloc(64, 7).toString("base64")}`,
    isPublic: false,
    storeDir: "/nix/store",
    priority: 41,
    upstreamCacheKeyNames: ["cache.nixos.org-1"],
    createdAt: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    retentionPeriod: null,
    ...overrides,
  };
}

export function narRow(overrides: Partial<NewNar> = {}): NewNar {
  return {
    state: "V" satisfies RowState,
    narHash: sha256Like(),
    narSize: 123_456,
    compression: "zstd",
    numChunks: 1,
    createdAt: new Date(Date.UTC(2024, 1, 3, 4, 5, 6, 789)),
    ...overrides,
  };
}

export function chunkRow(overrides: Partial<NewChunk> & { compression?: CompressionType } = {}): NewChunk {
  const remoteFile: RemoteFile = { Local: { name: `${unique("f")}.chunk` } };
  return {
    chunkHash: sha256Like(),
    chunkSize: 65_536,
    compression: "zstd",
    remoteFile,
    remoteFileId: remoteFileId(remoteFile),
    createdAt: new Date(Date.UTC(2024, 2, 4, 5, 6, 7, 890)),
    ...overrides,
  };
}

export function objectRow(cacheId: number, narId: number, hash: string, overrides: Partial<NewObject> = {}): NewObject {
  return {
    cacheId,
    narId,
    storePathHash: hash,
    storePath: `/nix/store/${hash}-hello-2.12`,
    references: [`${hash}-hello-2.12`, "3n58xw4373jp0ljirf06d8077j15pc4j-glibc-2.37"],
    deriver: `${hash.slice(0, 31)}0-hello-2.12.drv`,
    sigs: ["cache.example-1:c2lnbmF0dXJl"],
    ca: null,
    createdAt: new Date(Date.UTC(2024, 3, 5, 6, 7, 8, 901)),
    createdBy: "alice",
    ...overrides,
  };
}

/** Inserts a cache and returns its id. */
export async function insertCache(db: Repositories, name = unique("cache")): Promise<{ id: number; name: string }> {
  if (!(await db.caches.insertCache(cacheRow(name)))) throw new Error(`cache ${name} already exists`);
  const row = await db.caches.findCache(name);
  if (!row) throw new Error(`cache ${name} vanished`);
  return { id: row.id, name };
}

/** Where `insertPlacedObjects` puts a hash. */
export type ObjectPlacement = "present" | "other" | "pending" | "absent";

/**
 * Two new caches, a valid NAR and a pending one, and in one transaction an object for each hash
 * as `placementOf(index)` says: "present" in the first cache with the valid NAR, "other" in
 * the second cache, "pending" in the first with the pending NAR, "absent" nowhere.
 */
export async function insertPlacedObjects(
  db: Database,
  hashes: readonly string[],
  placementOf: (index: number) => ObjectPlacement,
): Promise<{ cache: { id: number; name: string }; other: { id: number; name: string } }> {
  const cache = await insertCache(db);
  const other = await insertCache(db);
  const narId = await db.nars.insertNar(narRow());
  const pendingNar = await db.nars.insertNar(narRow({ state: "P" }));
  await db.transaction(async (tx) => {
    for (const [i, hash] of hashes.entries()) {
      const placement = placementOf(i);
      if (placement === "present") await tx.objects.upsertObject(objectRow(cache.id, narId, hash));
      if (placement === "other") await tx.objects.upsertObject(objectRow(other.id, narId, hash));
      if (placement === "pending") await tx.objects.upsertObject(objectRow(cache.id, pendingNar, hash));
    }
  });
  return { cache, other };
}

/** Inserts a valid chunk (pending, then marked valid) and returns its id; still held once. */
export async function insertValidChunk(db: Database | Repositories, overrides: Partial<NewChunk> = {}): Promise<number> {
  const id = await db.chunks.insertPendingChunk(chunkRow(overrides));
  await db.chunks.markChunkValid(id, { fileHash: sha256Like(), fileSize: 1000 });
  return id;
}
