import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Koa from "koa";
import type { CachePermission, EngineConfigInput } from "@attic-ts/core";
import { createApp, type HostOptions } from "../src/app.ts";
import { startTestEngine, type TestEngine, type TestEngineOptions } from "../../../test/helpers/engine.ts";

/**
 * A real engine (by default a SQLite file and local storage; PostgreSQL and S3 in the e2e
 * project) with HS256 tokens, behind a real HTTP server.
 */
export interface TestServer {
  t: TestEngine;
  server: Server;
  port: number;
  /** `http://127.0.0.1:PORT` without a trailing slash. */
  url: string;
  /** Mints a token for the given grants, valid one hour. */
  token(grants: Record<string, Partial<CachePermission>>, sub?: string): Promise<string>;
  close(): Promise<void>;
}

export async function listen(app: Koa): Promise<{ server: Server; port: number }> {
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** `backend` picks the database and storage (default SQLite and local; see TEST_MATRIX). */
export async function startServer(
  overrides: Partial<EngineConfigInput> = {},
  options: HostOptions = {},
  backend: TestEngineOptions = {},
): Promise<TestServer> {
  const t = await startTestEngine(overrides, backend);
  let listening: Awaited<ReturnType<typeof listen>>;
  try {
    listening = await listen(createApp(t.engine, options));
  } catch (err) {
    await t.close();
    throw err;
  }
  const { server, port } = listening;
  return {
    t,
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    token: (grants, sub = "tester") =>
      t.engine.tokens!.mint({ sub, validitySeconds: 3600, grants: Object.entries(grants) }),
    async close() {
      await closeServer(server);
      await t.close();
    },
  };
}

export const ALL: Partial<CachePermission> = {
  pull: true,
  push: true,
  delete: true,
  createCache: true,
  configureCache: true,
  configureCacheRetention: true,
  destroyCache: true,
};

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** The body as text plus the headers, for concise assertions. */
export async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { redirect: "manual", ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * A request through node:http, which (unlike fetch) lets a test set `Host` and send latin1
 * header bytes.
 */
export function rawRequest(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: Uint8Array | string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, method: options.method ?? "GET", path: options.path, headers: options.headers, setHost: !options.headers?.Host },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
