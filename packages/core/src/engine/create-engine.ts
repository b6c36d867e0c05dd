import type { TokenAuthority } from "../auth/token-authority.ts";
import type { Chunker } from "../chunking/chunker.ts";
import { systemClock, type Clock } from "../clock.ts";
import type { Compressor } from "../compression/compressor.ts";
import { engineConfigSchema, type EngineConfig } from "../config/engine-config.ts";
import { parseConfig } from "../config/parse-config.ts";
import type { Database } from "../database/database.ts";
import { createRootContainer, resolve, type DependencyContainer } from "../di/index.ts";
import { BLOB_STORE, CHUNKER, CLOCK, COMPRESSOR, DATABASE, ENGINE_CONFIG, LIFECYCLE, LOGGER, NARINFO_CACHE, TOKEN_AUTHORITY } from "../di/tokens.ts";
import { Lifecycle } from "../lifecycle.ts";
import { noopLogger, type Logger } from "../logger.ts";
import type { PluginDescriptor } from "../plugin.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { BinaryCacheService } from "../services/binary-cache-service.ts";
import { CacheConfigService } from "../services/cache-config-service.ts";
import { GarbageCollector, GC_OPTIONS, type GarbageCollectorOptions } from "../services/garbage-collector.ts";
import { MissingPathsService } from "../services/missing-paths-service.ts";
import { NarInfoCache, type NarInfoCacheOptions } from "../services/narinfo-cache.ts";
import { UploadService } from "../services/upload-service.ts";
import { selectPlugins } from "./select-plugins.ts";

export interface EngineOptions {
  /** Attic's `server.toml` as parsed TOML (kebab-case keys); validated here. */
  config: unknown;
  /** Where the config came from, for error messages (a path or a variable name). */
  configSource?: string;
  /** Installed plugins; the config picks one per kind. */
  plugins: ReadonlyArray<PluginDescriptor<any>>;
  logger?: Logger;
  clock?: Clock;
  /** Apply database migrations at start (Attic does so in `monolithic` mode). Default true. */
  migrate?: boolean;
  /** Garbage collector tuning (batch size, pending grace period); defaults otherwise. */
  gc?: GarbageCollectorOptions;
  /** The narinfo cache's time to live and size (`{ ttlMs: 0 }` turns it off); defaults otherwise. */
  narInfoCache?: NarInfoCacheOptions;
}

/** A running engine: the services a host or an embedding program calls. */
export interface Engine {
  readonly config: EngineConfig;
  readonly container: DependencyContainer;
  readonly caches: CacheConfigService;
  readonly uploads: UploadService;
  readonly missingPaths: MissingPathsService;
  readonly binaryCache: BinaryCacheService;
  /** Garbage collection: `runOnce()` or `runPeriodically(interval, signal)`. */
  readonly gc: GarbageCollector;
  readonly database: Database;
  readonly storage: BlobStore;
  /** Null when no signing material is configured (tokens cannot be verified or minted). */
  readonly tokens: TokenAuthority | null;
  /** Stops plugins in reverse order (closes pools, terminates workers). */
  stop(): Promise<void>;
}

/**
 * Validates the config, registers the chosen plugins in a container of its own, starts them
 * in order and resolves every binding once, so a missing or broken plugin fails here rather
 * than on the first request.
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const source = options.configSource ?? "config";
  const config = parseConfig(engineConfigSchema, options.config, source);
  const logger = options.logger ?? noopLogger;
  const lifecycle = new Lifecycle();
  const container = createRootContainer();
  container.registerInstance(ENGINE_CONFIG, config);
  container.registerInstance(LOGGER, logger);
  container.registerInstance(CLOCK, options.clock ?? systemClock);
  container.registerInstance(LIFECYCLE, lifecycle);
  container.registerInstance(GC_OPTIONS, options.gc ?? {});
  container.registerInstance(NARINFO_CACHE, new NarInfoCache(options.narInfoCache));

  for (const { plugin, rawConfig, key } of selectPlugins(config, options.plugins, source)) {
    const pluginConfig = parseConfig(plugin.configSchema, rawConfig, source, key);
    await plugin.register(container, pluginConfig, { logger: logger.child({ plugin: `${plugin.kind}-${plugin.type}` }), lifecycle, engineConfig: config });
  }

  try {
    const database = resolve<Database>(container, DATABASE);
    const storage = resolve<BlobStore>(container, BLOB_STORE);
    resolve<Chunker>(container, CHUNKER);
    resolve<Compressor>(container, COMPRESSOR);
    const tokens = container.isRegistered(TOKEN_AUTHORITY) ? resolve<TokenAuthority>(container, TOKEN_AUTHORITY) : null;
    await lifecycle.start();
    if (options.migrate ?? true) await database.migrate();
    return {
      config,
      container,
      caches: container.resolve(CacheConfigService),
      uploads: container.resolve(UploadService),
      missingPaths: container.resolve(MissingPathsService),
      binaryCache: container.resolve(BinaryCacheService),
      gc: container.resolve(GarbageCollector),
      database,
      storage,
      tokens,
      stop: () => lifecycle.stop(),
    };
  } catch (err) {
    await lifecycle.stop().catch(() => {});
    throw err;
  }
}
