// An existing Koa application that mounts the cache under /cache. Usage:
//   ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64=$(openssl rand -base64 32) \
//     npx tsx --tsconfig tsconfig.base.json --conditions=source examples/koa-mount/src/main.ts
// Environment: PORT (default 8080; 0 picks a free port), HOST (default 127.0.0.1),
// DATA_DIR (SQLite file and chunk files; default a new temporary directory), CACHE_PREFIX
// (default /cache). The token secret is the same value as Attic's `token-hs256-secret-base64`.
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine } from "@attic-ts/core";
import { builtinPlugins } from "@attic-ts/server-koa";
import { createHostApp } from "./host-app.ts";

const secret = process.env.ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64;
if (!secret) {
  console.error("set ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64 (base64 of the HS256 secret tokens are signed with)");
  process.exit(2);
}
const dataDir = process.env.DATA_DIR ?? mkdtempSync(join(tmpdir(), "attic-koa-mount-"));
const cachePrefix = process.env.CACHE_PREFIX ?? "/cache";

// The same plugins atticd ships with; the config below picks SQLite, local storage and JWT.
const engine = await createEngine({
  plugins: builtinPlugins,
  configSource: "examples/koa-mount",
  config: {
    database: { url: `sqlite://${join(dataDir, "server.db")}?mode=rwc` },
    storage: { type: "local", path: join(dataDir, "storage") },
    chunking: { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 },
    jwt: { signing: { "token-hs256-secret-base64": secret } },
  },
});

const server = createServer(createHostApp(engine, { cachePrefix }).callback());
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? "127.0.0.1", () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(`Listening on http://${address}:${port} (cache under ${cachePrefix}/, data in ${dataDir})`);
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await engine.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
