import { ApiClient } from "../api/api-client.ts";
import { parseCacheRef } from "../cache-ref.ts";
import { loadClientConfig, resolveCache, serverToken, type ResolvedCache } from "../config/client-config.ts";
import { clientConfigPath } from "../config/xdg.ts";
import type { CliIo } from "../io.ts";

/** What every command gets from `main`. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  io: CliIo;
  /** The fetch used for every request (tests may count requests through it). */
  fetch: typeof fetch;
}

/** A cache reference resolved against the configuration, with a client for its server. */
export interface OpenedCache extends ResolvedCache {
  api: ApiClient;
  token: string | undefined;
}

/** Loads the configuration, resolves `ref` and builds an API client carrying the server's token. */
export async function openCache(ctx: CommandContext, ref: string): Promise<OpenedCache> {
  const parsed = parseCacheRef(ref);
  const config = await loadClientConfig(clientConfigPath(ctx.env));
  const resolved = resolveCache(config, parsed);
  const token = await serverToken(resolved.server);
  return { ...resolved, token, api: new ApiClient(resolved.server.endpoint, token, ctx.fetch) };
}
