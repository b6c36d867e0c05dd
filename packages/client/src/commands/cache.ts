import { formatDurationSeconds, parseDurationSeconds, type ConfigureCacheRequest } from "@attic-ts/core";
import { createInterface } from "node:readline";
import { ClientError, errorMessage } from "../errors.ts";
import { writeLine } from "../io.ts";
import { openCache, type CommandContext } from "./context.ts";

export interface CreateOptions {
  public?: boolean;
  priority: number;
  upstreamCacheKeyName: string[];
  storeDir: string;
}

/** `attic cache create`: POST with a generated keypair. */
export async function createCache(ctx: CommandContext, ref: string, o: CreateOptions): Promise<void> {
  const { api, cache, serverName } = await openCache(ctx, ref);
  await api.createCache(cache, {
    keypair: "Generate",
    is_public: o.public === true,
    store_dir: o.storeDir,
    priority: o.priority,
    upstream_cache_key_names: o.upstreamCacheKeyName,
  });
  writeLine(ctx.io.stderr, `✨ Created cache "${cache}" on "${serverName}"`);
}

export interface ConfigureOptions {
  public?: boolean;
  private?: boolean;
  regenerateKeypair?: boolean;
  storeDir?: string;
  priority?: number;
  upstreamCacheKeyName?: string[];
  retentionPeriod?: string;
  resetRetentionPeriod?: boolean;
}

/**
 * The PATCH body for `attic cache configure`: only the fields the user asked to change.
 * Attic's own client always adds `retention_period` (issue #350), which resets retention and
 * needs the `cq` permission on every call; this one sends it only with `--retention-period` or
 * `--reset-retention-period`.
 */
export function configurePatch(o: ConfigureOptions): ConfigureCacheRequest {
  if (o.public && o.private) throw new ClientError("`--public` and `--private` cannot be set at the same time.");
  if (o.retentionPeriod !== undefined && o.resetRetentionPeriod) {
    throw new ClientError("`--retention-period` and `--reset-retention-period` cannot be set at the same time.");
  }
  const patch: ConfigureCacheRequest = {};
  if (o.public) patch.is_public = true;
  else if (o.private) patch.is_public = false;
  if (o.regenerateKeypair) patch.keypair = "Generate";
  if (o.storeDir !== undefined) patch.store_dir = o.storeDir;
  if (o.priority !== undefined) patch.priority = o.priority;
  if (o.upstreamCacheKeyName !== undefined) patch.upstream_cache_key_names = o.upstreamCacheKeyName;
  if (o.retentionPeriod !== undefined) {
    let seconds: number;
    try {
      seconds = parseDurationSeconds(o.retentionPeriod);
    } catch (err) {
      throw new ClientError(`Invalid retention period: ${errorMessage(err)}`);
    }
    patch.retention_period = { Period: seconds };
  } else if (o.resetRetentionPeriod) {
    patch.retention_period = "Global";
  }
  if (Object.keys(patch).length === 0) throw new ClientError("Nothing to configure: pass at least one option.");
  return patch;
}

/** `attic cache configure`: PATCH with {@link configurePatch}. */
export async function configureCache(ctx: CommandContext, ref: string, o: ConfigureOptions): Promise<void> {
  const patch = configurePatch(o);
  const { api, cache, serverName } = await openCache(ctx, ref);
  await api.configureCache(cache, patch);
  writeLine(ctx.io.stderr, `✅ Configured "${cache}" on "${serverName}"`);
}

/** `attic cache info`: the cache's configuration, in Attic's layout. */
export async function cacheInfo(ctx: CommandContext, ref: string): Promise<void> {
  const { api, cache } = await openCache(ctx, ref);
  const c = await api.getCacheConfig(cache);
  const out = (label: string, value: string) => writeLine(ctx.io.stderr, `${label.padStart(21)}: ${value}`);
  out("Public", String(c.is_public));
  out("Public Key", c.public_key);
  out("Binary Cache Endpoint", c.substituter_endpoint);
  out("API Endpoint", c.api_endpoint);
  out("Store Directory", c.store_dir);
  out("Priority", String(c.priority));
  out("Upstream Cache Keys", `[${c.upstream_cache_key_names.map((k) => JSON.stringify(k)).join(", ")}]`);
  const retention = c.retention_period;
  out("Retention Period", retention === "Global" ? "Global Default" : `${retention.Period} (${formatDurationSeconds(retention.Period)})`);
}

/** `attic cache destroy`: asks the user to type the cache name unless `--no-confirm`. */
export async function destroyCache(ctx: CommandContext, ref: string, o: { confirm: boolean }): Promise<void> {
  const { api, cache, serverName } = await openCache(ctx, ref);
  if (o.confirm) {
    const err = ctx.io.stderr;
    writeLine(err, "When you destroy a cache:");
    writeLine(err);
    writeLine(err, "1. Everyone will lose access.");
    writeLine(err, "2. The underlying data won't be deleted immediately.");
    writeLine(err, "3. You may not be able to create a cache of the same name.");
    writeLine(err);
    err.write(`⚠️ Type the cache name to confirm destroying "${cache}" on "${serverName}": `);
    const answer = await readOneLine(ctx);
    if (answer !== cache) throw new ClientError("Incorrect answer. Aborting...");
  }
  await api.destroyCache(cache);
  writeLine(ctx.io.stderr, "🗑️ The cache was destroyed.");
}

async function readOneLine(ctx: CommandContext): Promise<string> {
  const rl = createInterface({ input: ctx.io.stdin, terminal: false });
  try {
    for await (const line of rl) return line.trim();
    return "";
  } finally {
    rl.close();
  }
}
