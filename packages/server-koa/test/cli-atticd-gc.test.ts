import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import knexFactory from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ATTICD,
  REPO,
  atticadm,
  atticdOnce,
  bearer,
  buildDist,
  listFiles,
  sandbox,
  serverToml,
  startAtticd,
  writeConfig,
  type Sandbox,
} from "./cli-harness.ts";
import { createCacheHttp, infoFor, standardFixtures, uploadViaHeader, type NarFixture } from "./fixtures.ts";

// The garbage-collector modes of the real atticd process, on the SQLite file and storage
// directory a monolithic server wrote (Attic's integration step 8).

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pino's JSON lines on stderr with the given message. */
function logRecords(stderr: string, msg: string): Array<Record<string, unknown>> {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => r.msg === msg);
}

async function rootToken(configPath: string, env: NodeJS.ProcessEnv): Promise<string> {
  const flags = ["pull", "push", "create-cache", "configure-cache", "configure-cache-retention"].flatMap((f) => [`--${f}`, "*"]);
  const result = await atticadm(["-f", configPath, "make-token", "--sub", "gc-test", "--validity", "1 hour", ...flags], env);
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

/** Creates the cache, pushes both fixtures and sets a one-second retention. */
async function fillAndExpire(url: string, token: string, cache: string, fixtures: NarFixture[]): Promise<void> {
  await createCacheHttp(url, token, cache);
  for (const f of fixtures) {
    const res = await uploadViaHeader(url, token, infoFor(f, cache), f.nar);
    expect(res.status).toBe(200);
  }
  const patch = await fetch(`${url}/_api/v1/cache-config/${cache}`, {
    method: "PATCH",
    headers: { ...bearer(token), "Content-Type": "application/json" },
    body: JSON.stringify({ retention_period: { Period: 1 } }),
  });
  expect(patch.status).toBe(200);
}

async function narInfoStatus(url: string, token: string, cache: string, f: NarFixture): Promise<number> {
  return (await fetch(`${url}/${cache}/${f.hash}.narinfo`, { headers: bearer(token) })).status;
}

describe("atticd garbage collection (real process)", { timeout: 180_000 }, () => {
  let box: Sandbox;
  let fixtures: NarFixture[];

  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
    const { small, large } = await standardFixtures("gc-cli");
    fixtures = [small, large];
  });
  afterAll(async () => box?.cleanup());

  it("--mode garbage-collector-once deletes expired paths and their files, then exits 0", async () => {
    const dir = join(box.dir, "once");
    await mkdir(dir);
    const configPath = await writeConfig(dir, serverToml(dir));
    const server = await startAtticd(["-f", configPath], box.env);
    try {
      const token = await rootToken(configPath, box.env);
      await fillAndExpire(server.url, token, "test", fixtures);
      for (const f of fixtures) expect(await narInfoStatus(server.url, token, "test", f)).toBe(200);
      expect((await listFiles(join(dir, "storage"))).length).toBeGreaterThan(2);
      await sleep(2000);

      const gc = await atticdOnce(["-f", configPath, "--mode", "garbage-collector-once"], box.env);
      expect(gc.stderr).toContain("Attic Server 0.1.0 (attic-ts)");
      expect(gc.code).toBe(0);
      const [report] = logRecords(gc.stderr, "garbage collection finished");
      expect(report).toMatchObject({ expiredObjects: 2, orphanNars: 2, stalePendingNars: 0, failedDeletions: 0 });
      expect(report!.deletedChunks).toBeGreaterThan(1);

      // The running server sees the same database: the paths are gone.
      for (const f of fixtures) expect(await narInfoStatus(server.url, token, "test", f)).toBe(404);
      expect(await listFiles(join(dir, "storage"))).toEqual(["VERSION"]);
    } finally {
      expect((await server.stop("SIGTERM")).code).toBe(0);
    }
  });

  it("--mode garbage-collector-once skips its run, exit 0, while another collector holds the lock", async () => {
    const dir = join(box.dir, "locked");
    await mkdir(dir);
    const configPath = await writeConfig(dir, serverToml(dir));
    expect((await atticdOnce(["-f", configPath, "--mode", "db-migrations"], box.env)).code).toBe(0);
    const knex = knexFactory({ client: "sqlite3", connection: { filename: join(dir, "server.db") }, useNullAsDefault: true });
    try {
      // Another collector on this SQLite file, its lock renewed into the future.
      const until = new Date(Date.now() + 60_000).toISOString().replace("Z", "+00:00");
      await knex("attic_ts_gc_lock").insert({ name: "garbage-collection", owner: "another collector", expires_at: until });
      const skipped = await atticdOnce(["-f", configPath, "--mode", "garbage-collector-once"], box.env);
      expect(skipped.code).toBe(0);
      expect(skipped.stderr).toContain("garbage collection skipped: another collector is running");
      expect(logRecords(skipped.stderr, "garbage collection finished")).toEqual([]);

      await knex("attic_ts_gc_lock").delete(); // that collector finished
      const ran = await atticdOnce(["-f", configPath, "--mode", "garbage-collector-once"], box.env);
      expect(ran.code).toBe(0);
      expect(logRecords(ran.stderr, "garbage collection finished")[0]).toMatchObject({ skipped: false, sweptFiles: 0 });
      expect(await knex("attic_ts_gc_lock").count({ n: "*" })).toEqual([{ n: 0 }]);
    } finally {
      await knex.destroy();
    }
  });

  it("garbage-collector-once does not migrate: on an empty database it fails and creates no tables", async () => {
    const dir = join(box.dir, "unmigrated");
    await mkdir(dir);
    const configPath = await writeConfig(dir, serverToml(dir));
    const gc = await atticdOnce(["-f", configPath, "--mode", "garbage-collector-once"], box.env);
    expect(gc.code).toBe(1);
    const knex = knexFactory({ client: "sqlite3", connection: { filename: join(dir, "server.db") }, useNullAsDefault: true });
    try {
      expect(await knex("sqlite_master").where({ type: "table" }).pluck("name")).not.toContain("cache");
    } finally {
      await knex.destroy();
    }
  });

  it("monolithic collects periodically next to the API; interval 0 turns it off", async () => {
    const dir = join(box.dir, "periodic");
    await mkdir(dir);
    const configPath = await writeConfig(dir, serverToml(dir, { extra: '[garbage-collection]\ninterval = "1s"\n' }));
    const server = await startAtticd(["-f", configPath], box.env);
    try {
      const token = await rootToken(configPath, box.env);
      await fillAndExpire(server.url, token, "test", fixtures);
      const deadline = Date.now() + 20_000;
      while ((await narInfoStatus(server.url, token, "test", fixtures[1]!)) !== 404) {
        if (Date.now() > deadline) throw new Error(`periodic GC did not collect:\n${server.stderr()}`);
        await sleep(250);
      }
      expect(logRecords(server.stderr(), "garbage collection finished").length).toBeGreaterThan(1);
    } finally {
      expect((await server.stop("SIGTERM")).code).toBe(0);
    }

    const offPath = await writeConfig(dir, serverToml(dir, { extra: '[garbage-collection]\ninterval = "0s"\n' }), "off.toml");
    const off = await startAtticd(["-f", offPath], box.env);
    await sleep(500);
    expect((await off.stop("SIGTERM")).code).toBe(0);
    expect(off.stderr()).toContain("periodic garbage collection is disabled");
    expect(logRecords(off.stderr(), "garbage collection finished")).toEqual([]);
  });

  it("--mode garbage-collector runs a pass at once and stops cleanly on SIGTERM", async () => {
    const dir = join(box.dir, "collector");
    await mkdir(dir);
    const configPath = await writeConfig(dir, serverToml(dir));
    expect((await atticdOnce(["-f", configPath, "--mode", "db-migrations"], box.env)).code).toBe(0);
    const child = spawn(process.execPath, [ATTICD, "-f", configPath, "--mode", "garbage-collector"], {
      env: box.env,
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (logRecords(stderr, "garbage collection finished").length === 0) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no GC pass:\n${stderr}`);
        await sleep(100);
      }
      // Still running: the next pass is 12 hours away.
      await sleep(300);
      expect(child.exitCode).toBeNull();
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stderr).not.toContain("Listening on");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
