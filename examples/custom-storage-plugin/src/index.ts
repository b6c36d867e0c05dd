import { BLOB_STORE, definePlugin } from "@attic-ts/core";
import { flatDirConfigSchema } from "./config.ts";
import { FlatDirBlobStore } from "./flat-dir-blob-store.ts";

export { flatDirConfigSchema, type FlatDirConfig } from "./config.ts";
export { FlatDirBlobStore } from "./flat-dir-blob-store.ts";

/**
 * `[storage] type = "flat-dir"`: every chunk file as one file in a single directory. Loaded by
 * `atticd` when this module is named in `ATTIC_TS_PLUGINS`, which imports the default export.
 */
export const flatDirPlugin = definePlugin({
  kind: "storage",
  type: "flat-dir",
  configSchema: flatDirConfigSchema,
  register(container, config, ctx) {
    const store = new FlatDirBlobStore(config.path);
    container.registerInstance(BLOB_STORE, store);
    // register() must stay synchronous: creating the directory is async, so it runs on start.
    ctx.lifecycle.onStart(async () => {
      await store.init();
      ctx.logger.info({ path: store.root }, "flat-dir storage ready");
    });
  },
});

export default flatDirPlugin;
