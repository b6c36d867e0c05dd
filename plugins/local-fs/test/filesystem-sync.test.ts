import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageError } from "@attic-ts/core";
import { LocalBlobStore } from "@attic-ts/storage-local-fs";

// local-fs's `sync = "filesystem"` (opt-in): writes with `deferSync` skip their fsyncs and `syncWrites`
// makes them durable with one syncfs(2) (coreutils' `sync -f`) through a resident shell. These
// run the real `sync` of this machine, and scripts standing in for one that fails.

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const KEY = "3f2a1b00-0000-4000-8000-000000000000.chunk";

let dir: string;
const stores: LocalBlobStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "attic-ts-local-sync-"));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function storeWith(options: ConstructorParameters<typeof LocalBlobStore>[1] = {}): Promise<LocalBlobStore> {
  // `filesystem` unless the case says otherwise (the store's default is `file`).
  const store = new LocalBlobStore(join(dir, "storage"), { sync: "filesystem", ...options });
  stores.push(store);
  await store.init();
  return store;
}

/** An executable script standing in for `sync`: `body` is its shell code. */
async function fakeSync(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => e.name).sort();
}

describe("LocalBlobStore filesystem sync", () => {
  it("flushes the filesystem where `sync -f` works (this machine)", async () => {
    const store = await storeWith();
    expect(store.syncMode).toBe("filesystem");
    await store.putBytes(KEY, Buffer.from("deferred bytes"), { deferSync: true });
    // Visible at once, with no temporary file left, before any flush.
    expect(await filesUnder(store.root)).toEqual([KEY, "VERSION"].sort());
    await store.syncWrites();
    const download = await store.open(store.refFor(KEY));
    if (download.kind !== "stream") throw new Error("local storage must stream");
    const parts: Buffer[] = [];
    for await (const part of download.stream) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).toBe("deferred bytes");
  });

  it("runs the `sync` program with -f and the storage directory", async () => {
    const log = join(dir, "calls.log");
    const store = await storeWith({ syncCommand: await fakeSync("logging-sync", `echo "$@" >> ${log}`) });
    await store.syncWrites();
    expect((await readFile(log, "utf8")).trim().split("\n")).toEqual([`-f ${store.root}`, `-f ${store.root}`]);
  });

  it("falls back to an fsync per file where `sync -f` is missing or refused", async () => {
    const missing = await storeWith({ syncCommand: join(dir, "no-such-sync") });
    expect(missing.syncMode).toBe("file");
    const refused = await storeWith({ syncCommand: await fakeSync("refusing-sync", "echo 'sync: invalid option -- f' >&2; exit 1") });
    expect(refused.syncMode).toBe("file");
    // Writes are then durable on return, and syncWrites has nothing to do.
    await refused.putBytes(KEY, Buffer.from("x"), { deferSync: true });
    await refused.syncWrites();
  });

  it("uses an fsync per file when configured so, and by default", async () => {
    const store = await storeWith({ sync: "file" });
    expect(store.syncMode).toBe("file");
    const byDefault = new LocalBlobStore(join(dir, "default-storage"));
    stores.push(byDefault);
    await byDefault.init();
    expect(byDefault.syncMode).toBe("file");
  });

  it("a failed flush rejects syncWrites with a StorageError naming the directory and what sync said", async () => {
    // Succeeds once (the probe at init), then fails.
    const marker = join(dir, "probed");
    const syncCommand = await fakeSync("failing-sync", `if [ -e ${marker} ]; then echo "sync: error syncing: Input/output error" >&2; exit 1; fi; touch ${marker}`);
    const store = await storeWith({ syncCommand });
    expect(store.syncMode).toBe("filesystem");
    const err = await store.syncWrites().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toContain(store.root);
    expect((err as Error).message).toContain("Input/output error");
  });

  it("an aborted syncWrites stops waiting; close fails a flush still pending", async () => {
    const marker = join(dir, "probed");
    const syncCommand = await fakeSync("slow-sync", `if [ -e ${marker} ]; then sleep 2; fi; touch ${marker}`);
    const store = await storeWith({ syncCommand });
    const controller = new AbortController();
    const waiting = store.syncWrites({ signal: controller.signal });
    controller.abort(new Error("client went away"));
    await expect(waiting).rejects.toThrow("client went away");
    const pending = store.syncWrites();
    await store.close();
    await expect(pending).rejects.toThrow(/closed/);
  });

  it("an idle sync helper does not keep the process alive", async () => {
    const script = join(dir, "idle.mjs");
    const importOf = JSON.stringify(new URL("../src/index.ts", import.meta.url).href);
    await writeFile(
      script,
      `import { LocalBlobStore } from ${importOf};\n` +
        `const store = new LocalBlobStore(process.argv[2], { sync: "filesystem" });\n` +
        `await store.init();\n` +
        `await store.putBytes(${JSON.stringify(KEY)}, Buffer.from("x"), { deferSync: true });\n` +
        `await store.syncWrites();\n` +
        `process.stdout.write(store.syncMode);\n`,
    );
    // No close(): the process must still end on its own once the flush is done.
    const { stdout } = await promisify(execFile)(process.execPath, ["--conditions=source", "--import", "tsx", script, join(dir, "child-storage")], {
      cwd: REPO,
      env: { ...process.env, TSX_TSCONFIG_PATH: "tsconfig.base.json" },
      timeout: 30_000,
    });
    expect(stdout).toBe("filesystem");
  });
});
