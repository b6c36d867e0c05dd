import { z } from "zod";
import { COMPRESSOR, definePlugin } from "@attic-ts/core";
import { NativeCompressor } from "./native-compressor.ts";

export { NativeCompressor, DEFAULT_BLOCK_SIZE, DEFAULT_IN_FLIGHT_BYTES } from "./native-compressor.ts";
export type { NativeCompressorOptions } from "./native-compressor.ts";
export { WorkerPool, WorkerPoolClosedError, defaultWorkerUrl } from "./worker-pool.ts";
export type { PoolJob, RunOptions, WorkerPoolOptions } from "./worker-pool.ts";
export { compressInBlocks } from "./block-parallel.ts";
export type { BlockCompressor, BlockParallelOptions } from "./block-parallel.ts";
export { effectiveLevel } from "./levels.ts";

/** The compressor plugin's own config table. */
export const nativeCompressionConfigSchema = z
  .object({
    /** Worker threads for zstd and xz; default `os.availableParallelism()`. */
    workers: z.number().int().positive().optional(),
  })
  .strict();

export type NativeCompressionConfig = z.infer<typeof nativeCompressionConfigSchema>;

/** Binds COMPRESSOR to a NativeCompressor whose worker threads stop with the engine. */
export const nativeCompressionPlugin = definePlugin<NativeCompressionConfig>({
  kind: "compressor",
  type: "native",
  configSchema: nativeCompressionConfigSchema,
  register(container, cfg, ctx) {
    const compressor = new NativeCompressor({ workers: cfg.workers });
    container.registerInstance(COMPRESSOR, compressor);
    ctx.lifecycle.onStop(() => compressor.close());
  },
});

export default nativeCompressionPlugin;
