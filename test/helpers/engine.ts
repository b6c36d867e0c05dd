import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import knex, { type Knex } from "knex";
import { inject } from "vitest";
import { createEngine, type Engine, type EngineConfigInput, type Principal, emptyPermission } from "@attic-ts/core";
import { fastcdcPlugin } from "@attic-ts/chunker-fastcdc";
import { nativeCompressionPlugin } from "@attic-ts/compression";
import { postgresPlugin } from "@attic-ts/db-postgres";
import { sqlitePlugin } from "@attic-ts/db-sqlite";
import { localFsPlugin } from "@attic-ts/storage-local-fs";
import { s3Plugin } from "@attic-ts/storage-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { jwtAuthPlugin } from "@attic-ts/token";
import { createTestDatabase } from "../setup/postgres.ts";
import { adminClient, createBucket, listObjects, removeBucket, s3StorageConfig } from "./s3.ts";

export const builtinPlugins = [localFsPlugin, s3Plugin, sqlitePlugin, postgresPlugin, fastcdcPlugin, nativeCompressionPlugin, jwtAuthPlugin];

/** The metadata databases the engine tests run on. */
export type TestDb = "sqlite" | "postgres";
/** Both, for `describe.each(TEST_DBS)`. */
export const TEST_DBS: readonly TestDb[] = ["sqlite", "postgres"];

/** Where the engine tests store chunks: a temp directory, or a fresh bucket on the run's Ceph RGW. */
export type TestStorage = "local" | "s3";

export interface TestEngineOptions {
  /** Default "local"; "s3" creates a fresh bucket on the gateway global-setup provides. */
  storage?: TestStorage;
  /** Default "sqlite" (a fresh file); "postgres" creates a fresh database on the run's cluster. */
  db?: TestDb;
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
  /** A second connection to the database, to look at rows the way an operator would. */
  inspect: Knex;
  close(): Promise<void>;
}

/**
 * An engine on a fresh database (a SQLite file, or a new PostgreSQL database on the cluster the
 * e2e global setup provides) and local directory, with Attic's template chunking.
 */
export async function startTestEngine(overrides: Partial<EngineConfigInput> = {}, options: TestEngineOptions = {}): Promise<TestEngine> {
  const db = options.db ?? "sqlite";
  const dir = await mkdtemp(join(tmpdir(), "attic-ts-engine-"));
  const storagePath = join(dir, "storage");
  const pg = db === "postgres" ? await createTestDatabase(inject("postgresUrl"), "engine") : undefined;
  const dbPath = pg ? pg.url : join(dir, "server.db");
  const storage = options.storage ?? "local";
  const s3Client = storage === "s3" ? adminClient() : undefined;
  const s3 = s3Client ? { client: s3Client, bucket: await createBucket(s3Client, "engine") } : undefined;
  const config: EngineConfigInput = {
    database: { url: pg ? pg.url : `sqlite://${dbPath}?mode=rwc` },
    storage: s3 ? s3StorageConfig(s3.bucket) : { type: "local", path: storagePath },
    chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
    jwt: { signing: { "token-hs256-secret-base64": Buffer.from("a test secret for attic-ts").toString("base64") } },
    ...overrides,
  };
  let engine: Engine;
  try {
    engine = await createEngine({ config, plugins: builtinPlugins, configSource: "test config" });
  } catch (err) {
    await pg?.drop();
    await rm(dir, { recursive: true, force: true });
    if (s3) await removeBucket(s3.client, s3.bucket).finally(() => s3.client.destroy());
    throw err;
  }
  const inspect = pg
    ? knex({ client: "pg", connection: pg.url, pool: { min: 0, max: 2 } })
    : knex({ client: "sqlite3", connection: { filename: dbPath }, useNullAsDefault: true });
  return {
    engine,
    dir,
    storagePath,
    db,
    storage,
    ...(s3 ? { s3 } : {}),
    dbPath,
    inspect,
    async close() {
      await inspect.destroy();
      await engine.stop();
      await pg?.drop();
      if (s3) await removeBucket(s3.client, s3.bucket).finally(() => s3.client.destroy());
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

/** Row counts of every table and the files under storage (but VERSION) or objects in the bucket: the observable state. */
export async function snapshot(t: TestEngine) {
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
