import { isValidCacheName } from "@attic-ts/core";
import { ClientError } from "./errors.ts";

/** A cache on a server: `server:cache`, or `cache` on the default server (`server` undefined). */
export interface CacheRef {
  server: string | undefined;
  cache: string;
}

/**
 * Parses Attic's cache reference syntax. Both parts follow the cache name rules (server names
 * use them too), so a second `:` or any other odd character is rejected here rather than by
 * the server.
 */
export function parseCacheRef(text: string): CacheRef {
  const colon = text.indexOf(":");
  const server = colon >= 0 ? text.slice(0, colon) : undefined;
  const cache = colon >= 0 ? text.slice(colon + 1) : text;
  if (server !== undefined && !isValidCacheName(server)) throw new ClientError(`Invalid server name "${server}"`);
  if (!isValidCacheName(cache)) throw new ClientError(`Invalid cache name "${cache}"`);
  return { server, cache };
}

/** Validates a server name given to `attic login`. */
export function assertServerName(name: string): string {
  if (!isValidCacheName(name)) throw new ClientError(`Invalid server name "${name}"`);
  return name;
}
