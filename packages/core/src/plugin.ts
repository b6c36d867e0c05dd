import type { z } from "zod";
import type { DependencyContainer } from "./di/index.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";
import type { EngineConfig } from "./config/engine-config.ts";

/** What a plugin provides: one binding of BLOB_STORE, DATABASE, CHUNKER, COMPRESSOR or TOKEN_AUTHORITY. */
export type PluginKind = "storage" | "database" | "chunker" | "compressor" | "auth";

export interface PluginContext {
  logger: Logger;
  lifecycle: Lifecycle;
  /** The whole validated engine config, for plugins that need more than their own table. */
  engineConfig: EngineConfig;
}

export interface PluginDescriptor<Cfg = unknown> {
  kind: PluginKind;
  /**
   * The value that selects this plugin: `storage.type` for storage (`local`, `s3`), the URL
   * scheme family for databases (`sqlite`, `postgres`), `fastcdc` for the chunker.
   */
  type: string;
  /** Database plugins: the `database.url` schemes they accept, without `:`. */
  urlSchemes?: readonly string[];
  /** Validates this plugin's config table (strict; kebab-case keys as in Attic). */
  configSchema: z.ZodType<Cfg>;
  /**
   * Binds the plugin's token; async work (connect, migrate) goes into `ctx.lifecycle.onStart`,
   * and releasing resources into `onStop`. It may return a promise, so a plugin can import its
   * heavy dependencies only when it is selected (the S3 plugin's AWS SDK is ~20 MiB of heap).
   */
  register(container: DependencyContainer, config: Cfg, ctx: PluginContext): void | Promise<void>;
}

/** Identity helper that infers `Cfg` from the schema. */
export function definePlugin<Cfg>(descriptor: PluginDescriptor<Cfg>): PluginDescriptor<Cfg> {
  return descriptor;
}
