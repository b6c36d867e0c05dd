import { BLOB_STORE, definePlugin } from "@attic-ts/core";
import { localStorageConfigSchema } from "./config.ts";
import { LocalBlobStore } from "./local-blob-store.ts";

export { localStorageConfigSchema } from "./config.ts";
export type { LocalStorageConfig } from "./config.ts";
export { LocalBlobStore } from "./local-blob-store.ts";
export type { LocalBlobStoreOptions, LocalSyncMode } from "./local-blob-store.ts";

/** `[storage] type = "local"`: chunk files in a local directory, in Attic's sharded layout. */
export const localFsPlugin = definePlugin({
  kind: "storage",
  type: "local",
  configSchema: localStorageConfigSchema,
  register(container, config, ctx) {
    const store = new LocalBlobStore(config.path, { sync: config.sync });
    container.registerInstance(BLOB_STORE, store);
    // Creating the directory, migrating the layout and writing VERSION are async: done on start.
    ctx.lifecycle.onStart(() => store.init());
    ctx.lifecycle.onStop(() => store.close());
  },
});

export default localFsPlugin;
