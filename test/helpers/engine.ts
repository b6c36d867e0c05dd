import { mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import knex, { type Knex } from "knex";
import { createEngine, type Engine, type EngineConfigInput, type Principal, emptyPermission } from "@attic-ts/core";
import { fastcdcPlugin } from "@attic-ts/chunker-fastcdc";
import { nativeCompressionPlugin } from "@attic-ts/compression";
import { sqlitePlugin } from "@attic-ts/db-sqlite";
import { localFsPlugin } from "@attic-ts/storage-local-fs";
import { jwtAuthPlugin } from "@attic-ts/token";

export const builtinPlugins = [localFsPlugin, sqlitePlugin, fastcdcPlugin, nativeCompressionPlugin, jwtAuthPlugin];

export interface TestEngine {
  engine: Engine;
  dir: string;
  storagePath: string;
  dbPath: string;
  /** A second connection to the SQLite file, to look at rows the way an operator would. */
  inspect: Knex;
  close(): Promise<void>;
}

/** An engine on a fresh SQLite file and local directory, with Attic's template chunking. */
export async function startTestEngine(overrides: Partial<EngineConfigInput> = {}): Promise<TestEngine> {
  const dir = await mkdtemp(join(tmpdir(), "attic-ts-engine-"));
  const storagePath = join(dir, "storage");
  const dbPath = join(dir, "server.db");
  const config: EngineConfigInput = {
    database: { url: `sqlite://${dbPath}?mode=rwc` },
    storage: { type: "local", path: storagePath },
    chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
    jwt: { signing: { "token-hs256-secret-base64": Buffer.from("a test secret for attic-ts").toString("base64") } },
    ...overrides,
  };
  const engine = await createEngine({ config, plugins: builtinPlugins, configSource: "test config" });
  const inspect = knex({ client: "sqlite3", connection: { filename: dbPath }, useNullAsDefault: true });
  return {
    engine,
    dir,
    storagePath,
    dbPath,
    inspect,
    async close() {
      await inspect.destroy();
      await engine.stop();
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

/** Row counts of every table and the files under storage (but VERSION): the observable state. */
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
  await walk(t.storagePath);
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
