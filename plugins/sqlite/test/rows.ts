import type { NewCache, NewChunk, NewNar, NewObject } from "@attic-ts/core";

/**
 * Row builders for the SQLite repository tests: every row dated `createdAt`, with hashes and
 * names unique per builder set, each field overridable.
 */
export function rowBuilders(createdAt: Date) {
  let seq = 0;
  const unique = (label: string) => `${label}-${++seq}`;
  const sha256 = () => `sha256:${(++seq).toString(16).padStart(64, "0")}`;
  return {
    unique,
    sha256,
    cacheRow: (name: string, overrides: Partial<NewCache> = {}): NewCache => ({
      name,
      keypair: `${name}:${Buffer.alloc(64, 7).toString("base64")}`,
      isPublic: false,
      storeDir: "/nix/store",
      priority: 41,
      upstreamCacheKeyNames: [],
      createdAt,
      retentionPeriod: null,
      ...overrides,
    }),
    narRow: (overrides: Partial<NewNar> = {}): NewNar => ({
      state: "V",
      narHash: sha256(),
      narSize: 1000,
      compression: "zstd",
      numChunks: 1,
      createdAt,
      ...overrides,
    }),
    chunkRow: (overrides: Partial<NewChunk> = {}): NewChunk => {
      const name = `${unique("f")}.chunk`;
      return {
        chunkHash: sha256(),
        chunkSize: 100,
        compression: "zstd",
        remoteFile: { Local: { name } },
        remoteFileId: `local:${name}`,
        createdAt,
        ...overrides,
      };
    },
    objectRow: (cacheId: number, narId: number, hash: string, overrides: Partial<NewObject> = {}): NewObject => ({
      cacheId,
      narId,
      storePathHash: hash,
      storePath: `/nix/store/${hash}-x`,
      references: [],
      deriver: null,
      sigs: [],
      ca: null,
      createdAt,
      createdBy: null,
      ...overrides,
    }),
  };
}
