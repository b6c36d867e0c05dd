import { readFile } from "node:fs/promises";
import { parse, stringify } from "smol-toml";
import type { CacheRef } from "../cache-ref.ts";
import { ClientError, errorMessage } from "../errors.ts";
import { writePrivateFile } from "./private-file.ts";

/** One `[servers.NAME]` table: an endpoint and optionally a token or a file holding one. */
export interface ServerConfig {
  endpoint: string;
  token?: string;
  "token-file"?: string;
}

/** The client configuration file, `$XDG_CONFIG_HOME/attic/config.toml`. */
export interface ClientConfigData {
  "default-server"?: string;
  servers: Record<string, ServerConfig>;
}

/** A server resolved from a cache reference. */
export interface ResolvedCache {
  serverName: string;
  server: ServerConfig;
  cache: string;
}

/** Reads the configuration; a missing file is an empty configuration. */
export async function loadClientConfig(path: string): Promise<ClientConfigData> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { servers: {} };
    throw err;
  }
  let raw: Record<string, unknown>;
  try {
    raw = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ClientError(`Invalid configuration file ${path}: ${errorMessage(err)}`);
  }
  const servers: Record<string, ServerConfig> = {};
  const rawServers = (raw.servers ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, s] of Object.entries(rawServers)) {
    if (typeof s?.endpoint !== "string") throw new ClientError(`Server "${name}" in ${path} has no endpoint`);
    const server: ServerConfig = { endpoint: s.endpoint };
    if (typeof s.token === "string") server.token = s.token;
    if (typeof s["token-file"] === "string") server["token-file"] = s["token-file"];
    servers[name] = server;
  }
  const data: ClientConfigData = { servers };
  if (typeof raw["default-server"] === "string") data["default-server"] = raw["default-server"];
  return data;
}

/** Writes the configuration back with mode 0600 (it holds tokens). */
export async function saveClientConfig(path: string, data: ClientConfigData): Promise<void> {
  const out: Record<string, unknown> = {};
  if (data["default-server"] !== undefined) out["default-server"] = data["default-server"];
  if (Object.keys(data.servers).length > 0) out.servers = data.servers;
  await writePrivateFile(path, `${stringify(out)}\n`);
}

/**
 * The server's token: `token` verbatim, or the trimmed contents of `token-file`; undefined
 * when neither is set (anonymous requests).
 */
export async function serverToken(server: ServerConfig): Promise<string | undefined> {
  if (server.token !== undefined) return server.token;
  const file = server["token-file"];
  if (file === undefined) return undefined;
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (err) {
    throw new ClientError(`Failed to read token from ${file}: ${errorMessage(err)}`);
  }
}

/**
 * Finds the server of a cache reference: the named one, or the default server (`default-server`,
 * else the first configured server, as Attic picks an arbitrary one).
 */
export function resolveCache(data: ClientConfigData, ref: CacheRef): ResolvedCache {
  if (ref.server !== undefined) {
    const server = data.servers[ref.server];
    if (!server) throw new ClientError(`Server "${ref.server}" does not exist`);
    return { serverName: ref.server, server, cache: ref.cache };
  }
  const name = data["default-server"];
  if (name !== undefined) {
    const server = data.servers[name];
    if (!server) throw new ClientError(`Configured default server "${name}" does not exist`);
    return { serverName: name, server, cache: ref.cache };
  }
  const first = Object.entries(data.servers)[0];
  if (!first) throw new ClientError("No servers are available.");
  return { serverName: first[0], server: first[1], cache: ref.cache };
}
