import { chunkingConfigSchema } from "@attic-ts/core";
import type { ChunkingConfig } from "@attic-ts/core";

/**
 * This plugin's config is Attic's `[chunking]` table (`nar-size-threshold`, `min-size`,
 * `avg-size`, `max-size`, all in bytes), validated by core's schema so the ranges and the
 * `min <= avg <= max` rule are stated once. `nar-size-threshold` is read by the upload service,
 * not by the chunker.
 */
export const fastcdcConfigSchema = chunkingConfigSchema;

/** The validated `[chunking]` table. */
export type FastCdcConfig = ChunkingConfig;
