import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeBlobStoreConformance } from "@attic-ts/core/testing";
import { LocalBlobStore, type LocalSyncMode } from "@attic-ts/storage-local-fs";

// Both ways of making writes durable: the default fsync per file, and batched filesystem flushes.
for (const sync of ["file", "filesystem"] as const satisfies readonly LocalSyncMode[]) {
  let dir: string | undefined;
  describeBlobStoreConformance(`LocalBlobStore (sync = ${sync})`, {
    create: async () => {
      dir = await mkdtemp(join(tmpdir(), "attic-ts-local-fs-"));
      const store = new LocalBlobStore(join(dir, "storage"), { sync });
      await store.init();
      if (store.syncMode !== sync) throw new Error(`expected sync mode ${sync}, got ${store.syncMode}`);
      return store;
    },
    cleanup: async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  });
}
