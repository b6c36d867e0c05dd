import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeBlobStoreConformance } from "@attic-ts/core/testing";
import { FlatDirBlobStore } from "@attic-ts/example-custom-storage-plugin";

let dir: string | undefined;

// The same suite every storage plugin in the repository passes.
describeBlobStoreConformance("FlatDirBlobStore", {
  create: async () => {
    dir = await mkdtemp(join(tmpdir(), "attic-ts-flat-dir-"));
    const store = new FlatDirBlobStore(join(dir, "blobs"));
    await store.init();
    return store;
  },
  cleanup: async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});

async function* text(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

describe("FlatDirBlobStore layout", () => {
  it("keeps each blob as one file named by its key, with no temporary file left", async () => {
    const root = await mkdtemp(join(tmpdir(), "attic-ts-flat-dir-layout-"));
    try {
      const store = new FlatDirBlobStore(join(root, "a", "b"));
      await store.init();
      const ref = await store.put("0123-abcd.chunk", text("hello ", "flat ", "dir"));
      expect(ref).toEqual({ Local: { name: "0123-abcd.chunk" } });
      expect(await readdir(join(root, "a", "b"))).toEqual(["0123-abcd.chunk"]);
      expect(await readFile(join(root, "a", "b", "0123-abcd.chunk"), "utf8")).toBe("hello flat dir");

      async function* failing(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(1000);
        throw new Error("source failed");
      }
      await expect(store.put("9999.chunk", failing())).rejects.toThrow("source failed");
      expect(await readdir(join(root, "a", "b"))).toEqual(["0123-abcd.chunk"]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("removeLeftovers deletes temporary files older than the cutoff and nothing else", async () => {
    const root = await mkdtemp(join(tmpdir(), "attic-ts-flat-dir-leftovers-"));
    try {
      const store = new FlatDirBlobStore(root);
      await store.init();
      await store.put("0123-abcd.chunk", text("kept"));
      const old = join(root, ".part-killed");
      await writeFile(old, "partial");
      const hourAgo = new Date(Date.now() - 3_600_000);
      await utimes(old, hourAgo, hourAgo);
      await writeFile(join(root, ".part-running"), "x");
      expect(await store.removeLeftovers(new Date(Date.now() - 60_000))).toEqual({ files: 1, bytes: 7 });
      expect((await readdir(root)).sort()).toEqual([".part-running", "0123-abcd.chunk"]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("refuses keys that could leave the directory or hide among temporary files", () => {
    const store = new FlatDirBlobStore(tmpdir());
    for (const key of ["", "../x.chunk", "a/b.chunk", "a\\b.chunk", ".part-x"]) {
      expect(() => store.refFor(key)).toThrow(/Invalid flat-dir storage key/);
    }
  });
});
