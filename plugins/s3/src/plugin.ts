import { BLOB_STORE, definePlugin } from "@attic-ts/core";
import { s3StorageConfigSchema } from "./config.ts";

/**
 * `[storage] type = "s3"`: chunk files in an S3 (or S3-compatible) bucket, as Attic stores them.
 *
 * This module holds only the descriptor and the config schema; the AWS SDK (about 20 MiB of
 * heap once loaded) is imported when the plugin is registered, so a server on local storage
 * never loads it. `@attic-ts/storage-s3/plugin` is the entry point that keeps it that way.
 */
export const s3Plugin = definePlugin({
  kind: "storage",
  type: "s3",
  configSchema: s3StorageConfigSchema,
  async register(container, config, ctx) {
    const { S3BlobStore } = await import("./s3-blob-store.ts");
    const store = new S3BlobStore(config);
    container.registerInstance(BLOB_STORE, store);
    ctx.lifecycle.onStop(() => store.close());
  },
});

export default s3Plugin;
