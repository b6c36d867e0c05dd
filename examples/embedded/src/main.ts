// The engine as a library: no HTTP server, no tokens. Usage:
//   npx tsx --tsconfig tsconfig.base.json --conditions=source examples/embedded/src/main.ts /nix/store/<some path> [data dir]
// It dumps the path's NAR with `nix-store --dump`, stores it in a cache on local disk with
// SQLite, and prints the narinfo the cache would serve, signed with the cache's own key.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { PassThrough } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, type Principal } from "@attic-ts/core";
import { fastcdcPlugin } from "@attic-ts/chunker-fastcdc";
import { nativeCompressionPlugin } from "@attic-ts/compression";
import { sqlitePlugin } from "@attic-ts/db-sqlite";
import { localFsPlugin } from "@attic-ts/storage-local-fs";

const storePath = process.argv[2];
if (!storePath) {
  console.error("usage: main.ts /nix/store/<hash>-<name> [data dir]");
  process.exit(2);
}
const dataDir = process.argv[3] ?? mkdtempSync(join(tmpdir(), "attic-embedded-"));

const engine = await createEngine({
  plugins: [localFsPlugin, sqlitePlugin, fastcdcPlugin, nativeCompressionPlugin],
  config: {
    database: { url: `sqlite://${join(dataDir, "server.db")}?mode=rwc` },
    storage: { type: "local", path: join(dataDir, "storage") },
    chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
  },
});

// Embedding code decides who is acting; here, someone allowed everything on every cache.
const admin: Principal = {
  sub: "embedded-example",
  grants: [["*", { pull: true, push: true, delete: true, createCache: true, configureCache: true, configureCacheRetention: true, destroyCache: true }]],
};

try {
  await engine.caches
    .create(admin, "demo", { keypair: "Generate", is_public: true, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] })
    .catch((err: { code?: string }) => {
      if (err.code !== "CacheAlreadyExists") throw err;
    });

  // Path metadata as Nix reports it (Nix 2.8 prints an array; newer Nix an object).
  const raw = JSON.parse(execFileSync("nix", ["--extra-experimental-features", "nix-command", "path-info", "--json", storePath], { encoding: "utf8" }));
  const info = Array.isArray(raw) ? raw[0] : raw[storePath];
  const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
  // Piped at once into a stream we own: Node drops a child's stdout that nobody reads yet when
  // the child exits, and a small NAR is dumped before the engine starts reading its body.
  const nar = spawn("nix-store", ["--dump", storePath], { stdio: ["ignore", "pipe", "inherit"] }).stdout.pipe(new PassThrough());

  const result = await engine.uploads.uploadPath(
    admin,
    {
      cache: "demo",
      store_path_hash: base(storePath).slice(0, 32),
      store_path: storePath,
      references: (info.references as string[]).map(base),
      system: null,
      deriver: null,
      sigs: info.signatures ?? [],
      ca: info.ca ?? null,
      nar_hash: info.narHash,
      nar_size: info.narSize,
    },
    nar,
  );
  console.log(`upload: ${JSON.stringify(result)}`);

  const narinfo = await engine.binaryCache.narInfo(admin, "demo", `${base(storePath).slice(0, 32)}.narinfo`);
  process.stdout.write(narinfo.body);
  const config = await engine.caches.get(admin, "demo", { apiEndpoint: "http://localhost:8080/", substituterEndpoint: "http://localhost:8080/" });
  console.log(`public key: ${config.public_key}`);
} finally {
  await engine.stop();
}
