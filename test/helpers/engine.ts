import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Knex } from "knex";
import { createEngine, type Engine, type EngineConfigInput, type NarInfoCacheOptions, type Principal, emptyPermission } from "@attic-ts/core";
import { fastcdcPlugin } from "@attic-ts/chunker-fastcdc";
import { nativeCompressionPlugin } from "@attic-ts/compression";
import { postgresPlugin } from "@attic-ts/db-postgres";
import { sqlitePlugin } from "@attic-ts/db-sqlite";
import { localFsPlugin } from "@attic-ts/storage-local-fs";
import { s3Plugin } from "@attic-ts/storage-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { jwtAuthPlugin } from "@attic-ts/token";
import { provisionBackend, type TestDb, type TestStorage } from "./backend.ts";
import { listObjects } from "./s3.ts";

export { TEST_DBS, TEST_MATRIX, type TestBackend, type TestDb, type TestStorage } from "./backend.ts";

export const builtinPlugins = [localFsPlugin, s3Plugin, sqlitePlugin, postgresPlugin, fastcdcPlugin, nativeCompressionPlugin, jwtAuthPlugin];

export interface TestEngineOptions {
  /** Default "local"; "s3" creates a fresh bucket on the gateway global-setup provides. */
  storage?: TestStorage;
  /** Default "sqlite" (a fresh file); "postgres" creates a fresh database on the run's cluster. */
  db?: TestDb;
  /** The engine's narinfo cache settings (default: the engine's own). */
  narInfoCache?: NarInfoCacheOptions;
  /** With local storage: its `sync` setting (default: the plugin's own, `file`). */
  localSync?: "file" | "filesystem";
}

export interface TestEngine {
  engine: Engine;
  dir: string;
  storagePath: string;
  db: TestDb;
  storage: TestStorage;
  /** With `storage: "s3"`: the bucket and a client to inspect it. */
  s3?: { client: S3Client; bucket: string };
  /** The SQLite file, or the PostgreSQL database URL. */
  dbPath: string;
  /** The engine's config as given to `createEngine` (to start a second engine on the same backend). */
  config: EngineConfigInput;
  /** A second connection to the database, to look at rows the way an operator would. */
  inspect: Knex;
  close(): Promise<void>;
}

/**
 * An engine on a fresh database (a SQLite file, or a new PostgreSQL database on the cluster the
 * e2e global setup provides) and fresh storage (a local directory, or a new bucket), with
 * Attic's template chunking.
 */
export async function startTestEngine(overrides: Partial<EngineConfigInput> = {}, options: TestEngineOptions = {}): Promise<TestEngine> {
  const backend = await provisionBackend(options.db ?? "sqlite", options.storage ?? "local");
  const config: EngineConfigInput = {
    database: { url: backend.databaseUrl },
    storage: options.localSync && backend.storageConfig.type === "local" ? { ...backend.storageConfig, sync: options.localSync } : backend.storageConfig,
    chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
    jwt: { signing: { "token-hs256-secret-base64": Buffer.from("a test secret for attic-ts").toString("base64") } },
    ...overrides,
  };
  let engine: Engine;
  try {
    engine = await createEngine({
      config,
      plugins: builtinPlugins,
      configSource: "test config",
      ...(options.narInfoCache ? { narInfoCache: options.narInfoCache } : {}),
    });
  } catch (err) {
    await backend.cleanup();
    throw err;
  }
  const inspect = backend.connect();
  return {
    engine,
    dir: backend.dir,
    storagePath: backend.storagePath,
    db: backend.db,
    storage: backend.storage,
    ...(backend.s3 ? { s3: backend.s3 } : {}),
    dbPath: backend.dbPath,
    config,
    inspect,
    async close() {
      await inspect.destroy();
      await engine.stop();
      await backend.cleanup();
    },
  };
}

/** Every permission on every cache. */
export const ROOT: Principal = {
  sub: "root",
  grants: [["*", { pull: true, push: true, delete: true, createCache: true, configureCache: true, configureCacheRetention: true, destroyCache: true }]],
};

export function principal(sub: string, grants: Record<string, Partial<ReturnType<typeof emptyPermission>>>): Principal {
  return { sub, grants: Object.entries(grants).map(([pattern, bits]) => [pattern, { ...emptyPermission(), ...bits }] as const) };
}

export async function createCache(engine: Engine, name: string, isPublic = false): Promise<void> {
  await engine.caches.create(ROOT, name, {
    keypair: "Generate",
    is_public: isPublic,
    store_dir: "/nix/store",
    priority: 41,
    upstream_cache_key_names: ["cache.nixos.org-1"],
  });
}

/** What {@link snapshot} looks at: a database connection and the storage. */
export type StateSource = Pick<TestEngine, "inspect" | "storagePath" | "s3">;

/** Row counts of every table and the files under storage (but VERSION) or objects in the bucket: the observable state. */
export async function snapshot(t: StateSource) {
  const count = async (table: string) => Number((await t.inspect(table).count({ n: "*" }))[0]!.n);
  const files: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name !== "VERSION") files.push(`${relative(t.storagePath, path)}:${(await stat(path)).size}`);
    }
  }
  // S3: the bucket's objects (ListObjectsV2) stand in for the files.
  if (t.s3) files.push(...(await listObjects(t.s3.client, t.s3.bucket)));
  else await walk(t.storagePath);
  return {
    nar: await count("nar"),
    chunk: await count("chunk"),
    chunkref: await count("chunkref"),
    object: await count("object"),
    pendingOrHeld:
      Number((await t.inspect("nar").where("state", "<>", "V").orWhere("holders_count", ">", 0).count({ n: "*" }))[0]!.n) +
      Number((await t.inspect("chunk").where("state", "<>", "V").orWhere("holders_count", ">", 0).count({ n: "*" }))[0]!.n),
    files: files.sort(),
  };
}

/** How the engine answers for a NAR: its stream, or a presigned URL to redirect to. */
export type ServedNarBody = { kind: "stream"; stream: AsyncIterable<Uint8Array> } | { kind: "redirect"; url: string };

/**
 * The stored (compressed) bytes of a served NAR, fetching a redirect's URL the way a client
 * would. `redirect` says which answer the combination must give: Attic redirects exactly for a
 * single-chunk NAR on S3, and streams everything else.
 */
export async function servedNarBytes(body: ServedNarBody, redirect: boolean): Promise<Buffer> {
  if (body.kind === "redirect") {
    if (!redirect) throw new Error(`expected a streamed NAR, got a redirect to ${body.url}`);
    const response = await fetch(body.url);
    if (response.status !== 200) throw new Error(`the redirect URL answered ${response.status}: ${await response.text()}`);
    return Buffer.from(await response.arrayBuffer());
  }
  if (redirect) throw new Error("expected a redirect to a presigned URL, got a stream");
  const parts: Uint8Array[] = [];
  for await (const part of body.stream) parts.push(part);
  return Buffer.concat(parts);
}
