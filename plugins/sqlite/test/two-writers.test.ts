import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { KnexDatabase } from "@attic-ts/sql";
import { openSqliteDatabase } from "../src/index.ts";
import { insertSharedChunk, settleAll, uploadRounds } from "./upload-rounds.ts";

// Several writers on one SQLite file, as atticd replicas, or a server and a separate collector,
// run. Two handles lock each other out as two processes do (each has its own writer connection);
// a second process checks the real thing. A write must wait for the lock (busy_timeout), never
// fail with SQLITE_BUSY at once.

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "attic-ts-sqlite-two-writers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const opened: KnexDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()));
});

async function open(url: string): Promise<KnexDatabase> {
  const db = await openSqliteDatabase(url);
  opened.push(db);
  return db;
}

async function freshFile(): Promise<{ url: string; db: KnexDatabase }> {
  const url = `sqlite://${join(dir, `db-${++n}.sqlite`)}?mode=rwc`;
  const db = await open(url);
  await db.migrate();
  return { url, db };
}

/** Every upload's chunk is there, no lease is left open, and the shared chunk is unheld again. */
async function expectSettled(db: KnexDatabase, sharedChunk: string, remoteFileIds: string[]): Promise<void> {
  expect((await db.gc.referencedFiles(remoteFileIds)).size).toBe(remoteFileIds.length);
  expect(await db.gc.reapExpiredLeases(new Date(Date.now() + 3_600_000), 10_000)).toEqual({ leases: 0, holds: 0 });
  expect((await db.chunks.findAndLockChunk(sharedChunk, "zstd"))?.holdersCount).toBe(1);
}

describe("two writers on one SQLite file", () => {
  it("commits every upload through two handles while a collector reaps beside them", async () => {
    const { url, db: a } = await freshFile();
    const b = await open(url);
    const shared = await insertSharedChunk(a);
    let uploading = true;
    const collector = (async () => {
      let reaped = 0;
      while (uploading) {
        await a.leases.openLease(new Date(Date.now() - 1000));
        reaped += (await b.gc.reapExpiredLeases(new Date(), 100)).leases;
      }
      return reaped;
    })();
    const uploads = settleAll([uploadRounds(a, shared, 60), uploadRounds(b, shared, 60)]).finally(() => (uploading = false));
    await Promise.allSettled([uploads, collector]);
    expect(await collector).toBeGreaterThan(0);
    await expectSettled(a, shared, (await uploads).flat());
  });

  it("commits every upload from two processes", async () => {
    const { url, db } = await freshFile();
    const shared = await insertSharedChunk(db);
    const script = join(dir, "uploads.mts");
    const importOf = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    writeFileSync(
      script,
      `import { openSqliteDatabase } from ${importOf("../src/index.ts")};\n` +
        `import { uploadRounds } from ${importOf("./upload-rounds.ts")};\n` +
        `const db = await openSqliteDatabase(process.argv[2]);\n` +
        `const ids = await uploadRounds(db, process.argv[3], 100);\n` +
        `await db.close();\n` +
        `process.stdout.write(JSON.stringify(ids));\n`,
    );
    // The workspace packages from source, as in this process (and the repository's other tsx runs).
    const child = promisify(execFile)(process.execPath, ["--conditions=source", "--import", "tsx", script, url, shared], {
      cwd: REPO,
      env: { ...process.env, TSX_TSCONFIG_PATH: "tsconfig.base.json" },
      timeout: 60_000,
    });
    let childRunning = true;
    void child.catch(() => undefined).finally(() => (childRunning = false));
    // Uploads here for as long as the child runs, so the two overlap whatever its start-up takes.
    const ours: string[] = [];
    while (childRunning) ours.push(...(await uploadRounds(db, shared, 8)));
    const theirs = JSON.parse((await child).stdout) as string[];
    expect(theirs).toHaveLength(100);
    await expectSettled(db, shared, [...ours, ...theirs]);
  });
});
