import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BLOB_STORE, Lifecycle, createRootContainer, noopLogger, resolve } from "@attic-ts/core";
import type { EngineConfig } from "@attic-ts/core";
import localFsDefault, { LocalBlobStore, localFsPlugin } from "@attic-ts/storage-local-fs";

describe("localFsPlugin", () => {
  it("is the default export and selects storage type local", () => {
    expect(localFsDefault).toBe(localFsPlugin);
    expect(localFsPlugin.kind).toBe("storage");
    expect(localFsPlugin.type).toBe("local");
  });

  it("accepts Attic's [storage] table and rejects unknown keys", () => {
    // `sync` is attic-ts's own key; Attic's table leaves it at its default.
    expect(localFsPlugin.configSchema.parse({ type: "local", path: "/srv/attic" })).toEqual({ type: "local", path: "/srv/attic", sync: "file" });
    expect(localFsPlugin.configSchema.parse({ type: "local", path: "/srv/attic", sync: "filesystem" }).sync).toBe("filesystem");
    const badSync = localFsPlugin.configSchema.safeParse({ type: "local", path: "/x", sync: "never" });
    expect(badSync.success).toBe(false);
    expect(badSync.error?.issues[0]?.path).toEqual(["sync"]);
    expect(localFsPlugin.configSchema.safeParse({ type: "local", path: "/x", bucket: "b" }).success).toBe(false);
    expect(localFsPlugin.configSchema.safeParse({ type: "s3", path: "/x" }).success).toBe(false);
    expect(localFsPlugin.configSchema.safeParse({ type: "local" }).success).toBe(false);
  });

  it("binds BLOB_STORE and prepares the directory on start", async () => {
    const dir = await mkdtemp(join(tmpdir(), "attic-ts-local-plugin-"));
    try {
      const root = join(dir, "storage");
      const container = createRootContainer();
      const lifecycle = new Lifecycle();
      const config = localFsPlugin.configSchema.parse({ type: "local", path: root });
      localFsPlugin.register(container, config, { logger: noopLogger, lifecycle, engineConfig: {} as EngineConfig });
      const store = resolve(container, BLOB_STORE);
      expect(store).toBeInstanceOf(LocalBlobStore);
      expect(store.type).toBe("local");
      await lifecycle.start();
      expect(await readFile(join(root, "VERSION"), "utf8")).toBe("1");
      expect((store as LocalBlobStore).syncMode).toBe("file");
      await lifecycle.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
