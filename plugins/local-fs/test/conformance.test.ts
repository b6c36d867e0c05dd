import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeBlobStoreConformance } from "@attic-ts/core/testing";
import { LocalBlobStore } from "@attic-ts/storage-local-fs";

let dir: string | undefined;

describeBlobStoreConformance("LocalBlobStore", {
  create: async () => {
    dir = await mkdtemp(join(tmpdir(), "attic-ts-local-fs-"));
    const store = new LocalBlobStore(join(dir, "storage"));
    await store.init();
    return store;
  },
  cleanup: async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});
