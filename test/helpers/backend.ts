import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import knex, { type Knex } from "knex";
import { inject } from "vitest";
import type { S3Client } from "@aws-sdk/client-s3";
import type { S3StorageConfig } from "@attic-ts/storage-s3";
import { createTestDatabase } from "../setup/postgres.ts";
import { adminClient, createBucket, removeBucket, s3StorageConfig } from "./s3.ts";

/** The metadata databases the end-to-end tests run on. */
export type TestDb = "sqlite" | "postgres";
/** Both, for `describe.each(TEST_DBS)`. */
export const TEST_DBS: readonly TestDb[] = ["sqlite", "postgres"];

/** Where chunks go: a temp directory, or a fresh bucket on the run's Ceph RGW. */
export type TestStorage = "local" | "s3";

/** One combination of database and storage, as a tuple so `describe.each` can print it with `%s, %s`. */
export type TestBackend = readonly [db: TestDb, storage: TestStorage];

/**
 * The four combinations every end-to-end suite runs in, like Attic's own test matrix:
 * `describe.each(TEST_MATRIX)("... (%s, %s)", (db, storage) => ...)`.
 */
export const TEST_MATRIX: readonly TestBackend[] = [
  ["sqlite", "local"],
  ["sqlite", "s3"],
  ["postgres", "local"],
  ["postgres", "s3"],
];

/** A fresh database and a fresh storage location, for an engine or an atticd process. */
export interface BackendResources {
  db: TestDb;
  storage: TestStorage;
  /** A scratch directory (it holds the SQLite file and the local storage directory). */
  dir: string;
  /** The local storage directory (exists only with `storage: "local"`, once the engine starts). */
  storagePath: string;
  /** The SQLite file, or the PostgreSQL database URL. */
  dbPath: string;
  /** `[database] url`, as Attic's config takes it. */
  databaseUrl: string;
  /** The `[storage]` table. */
  storageConfig: { type: "local"; path: string } | S3StorageConfig;
  /** With `storage: "s3"`: the fresh bucket and an admin client to inspect it. */
  s3?: { client: S3Client; bucket: string };
  /** A new connection to the database, to look at rows the way an operator would. */
  connect(): Knex;
  /** `[database]` and `[storage]` in Attic's TOML. */
  toml(): string;
  /** Drops the database, empties and removes the bucket, removes the directory. */
  cleanup(): Promise<void>;
}

/** A TOML basic string (JSON's escaping is valid TOML for the ASCII values used here). */
const str = (value: string) => JSON.stringify(value);

/**
 * Creates what a test server needs for one combination: a SQLite file or a new database on the
 * run's PostgreSQL cluster, and a local directory or a new bucket on the run's Ceph RGW.
 */
export async function provisionBackend(db: TestDb = "sqlite", storage: TestStorage = "local"): Promise<BackendResources> {
  const dir = await mkdtemp(join(tmpdir(), "attic-ts-backend-"));
  const storagePath = join(dir, "storage");
  let pg: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let s3: { client: S3Client; bucket: string } | undefined;
  const cleanup = async () => {
    await pg?.drop();
    if (s3) {
      const { client, bucket } = s3;
      await removeBucket(client, bucket).finally(() => client.destroy());
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (db === "postgres") pg = await createTestDatabase(inject("postgresUrl"), "e2e");
    if (storage === "s3") {
      const client = adminClient();
      s3 = { client, bucket: await createBucket(client, "e2e").catch((err: unknown) => (client.destroy(), Promise.reject(err))) };
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  const dbPath = pg ? pg.url : join(dir, "server.db");
  const databaseUrl = pg ? pg.url : `sqlite://${dbPath}?mode=rwc`;
  const storageConfig: BackendResources["storageConfig"] = s3 ? s3StorageConfig(s3.bucket) : { type: "local", path: storagePath };
  return {
    db,
    storage,
    dir,
    storagePath,
    dbPath,
    databaseUrl,
    storageConfig,
    ...(s3 ? { s3 } : {}),
    connect: () =>
      pg
        ? knex({ client: "pg", connection: pg.url, pool: { min: 0, max: 2 } })
        : knex({ client: "sqlite3", connection: { filename: dbPath }, useNullAsDefault: true }),
    toml() {
      const lines = ["[database]", `url = ${str(databaseUrl)}`, "", "[storage]"];
      if (storageConfig.type === "local") lines.push('type = "local"', `path = ${str(storageConfig.path)}`);
      else {
        lines.push('type = "s3"', `region = ${str(storageConfig.region)}`, `bucket = ${str(storageConfig.bucket)}`);
        if (storageConfig.endpoint) lines.push(`endpoint = ${str(storageConfig.endpoint)}`);
        if (storageConfig.credentials) {
          const { access_key_id, secret_access_key } = storageConfig.credentials;
          lines.push("", "[storage.credentials]", `access_key_id = ${str(access_key_id)}`, `secret_access_key = ${str(secret_access_key)}`);
        }
      }
      return `${lines.join("\n")}\n`;
    },
    cleanup,
  };
}
