import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, type Engine, type EngineConfigInput, type Principal } from "@attic-ts/core";
import { FastCdcChunker, fastcdcPlugin } from "@attic-ts/chunker-fastcdc";
import { nativeCompressionPlugin } from "@attic-ts/compression";
import { sqlitePlugin } from "@attic-ts/db-sqlite";
import { localFsPlugin } from "@attic-ts/storage-local-fs";
import { localSyncMode, slices } from "./bench-util.ts";

export const ADMIN: Principal = {
  sub: "bench",
  grants: [["*", { pull: true, push: true, delete: false, createCache: true, configureCache: false, configureCacheRetention: false, destroyCache: false }]],
};

/** Attic's chunking template (its `server.toml`), which the bench engine uses. */
export const TEMPLATE_CHUNKING = { "min-size": 16384, "avg-size": 65536, "max-size": 262144 } as const;

/** The chunks the engine cuts from `buf` with the template, outside the engine (for counts and sizes). */
export function chunksOf(buf: Uint8Array): AsyncIterable<Uint8Array> {
  const { "min-size": minSize, "avg-size": avgSize, "max-size": maxSize } = TEMPLATE_CHUNKING;
  return new FastCdcChunker({ minSize, avgSize, maxSize }).chunk(slices(buf));
}

/**
 * An engine on a temporary SQLite file and directory, with Attic's template chunking. `baseDir`
 * (default the OS temp dir) places both, e.g. on tmpfs to take the disk's flush rate out.
 */
export async function benchEngine(
  overrides: Partial<EngineConfigInput> = {},
  baseDir: string = tmpdir(),
): Promise<{ engine: Engine; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(baseDir, "attic-ts-bench-"));
  const engine = await createEngine({
    plugins: [localFsPlugin, sqlitePlugin, fastcdcPlugin, nativeCompressionPlugin],
    config: {
      database: { url: `sqlite://${join(dir, "server.db")}?mode=rwc` },
      // BENCH_LOCAL_SYNC=filesystem measures local-fs's batched flushes (see docs).
      storage: { type: "local", path: join(dir, "storage"), sync: localSyncMode() },
      chunking: { "nar-size-threshold": 65536, ...TEMPLATE_CHUNKING },
      ...overrides,
    },
  });
  await engine.caches.create(ADMIN, "bench", { keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] });
  return {
    engine,
    async cleanup() {
      await engine.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** Upload info for a synthetic NAR of the given hash and size under a fresh store path. */
export function syntheticInfo(narHash: string, narSize: number) {
  const hash = (counter++).toString().padStart(32, "0").replace(/[eotu]/g, "0");
  return {
    cache: "bench",
    store_path_hash: hash,
    store_path: `/nix/store/${hash}-bench-${narSize}`,
    references: [],
    system: null,
    deriver: null,
    sigs: [],
    ca: null,
    nar_hash: narHash,
    nar_size: narSize,
  };
}
