import { CHUNKER, definePlugin } from "@attic-ts/core";
import { fastcdcConfigSchema } from "./config.ts";
import type { FastCdcConfig } from "./config.ts";
import { FastCdcChunker } from "./fastcdc-chunker.ts";

export { FastCdcChunker, validateChunkSizes, CHUNK_SIZE_LIMITS } from "./fastcdc-chunker.ts";
export { findCutPoint, cutParameters, chunkLengths } from "./fastcdc.ts";
export type { CutParameters } from "./fastcdc.ts";
export { GEAR_TABLE } from "./gear-table.ts";
export { fastcdcConfigSchema } from "./config.ts";
export type { FastCdcConfig } from "./config.ts";

/** Binds CHUNKER to Attic's ronomon FastCDC chunker, configured by the `[chunking]` table. */
export const fastcdcPlugin = definePlugin<FastCdcConfig>({
  kind: "chunker",
  type: "fastcdc",
  configSchema: fastcdcConfigSchema,
  register(container, cfg) {
    container.registerInstance(
      CHUNKER,
      new FastCdcChunker({ minSize: cfg["min-size"], avgSize: cfg["avg-size"], maxSize: cfg["max-size"] }),
    );
  },
});

export default fastcdcPlugin;
