import { createHash, randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, readlink } from "node:fs/promises";
import { Agent, createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
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
  sandbox,
  serverToml,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
  waitFor,
} from "./cli-harness.ts";
import { uploadInfoOfBytes } from "../../../test/helpers/data.ts";
import { createCacheHttp, uploadViaHeader } from "./fixtures.ts";

/**
 * `ATTIC_TS_WORKERS`: atticd as a primary process and HTTP worker processes sharing its socket
 * (node:cluster), on one SQLite file and one storage directory.
 */

const WORKERS = { ATTIC_TS_WORKERS: "2" };

/** The worker pids the primary's "Listening on" line lists. */
function workerPids(server: RunningAtticd): number[] {
  const line = server.stderr().split("\n").find((l) => l.includes("worker processes)"));
  return (JSON.parse(line!) as { workers: number[] }).workers;
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** The processes among `pids` holding an established TCP connection on local port `port` (from /proc). */
async function ownersOfConnections(port: number, pids: number[]): Promise<Set<number>> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 01 is ESTABLISHED; field 9 is the inode.
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === "01") inodes.add(f[9]!);
    }
  }
  const owners = new Set<number>();
  for (const pid of pids) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) owners.add(pid);
    }
  }
  return owners;
}

/** A synthetic NAR (the server checks its hash and size, not its contents) and Attic's upload info. */
function syntheticNar(cache: string, size: number) {
  const nar = randomBytes(size);
  const hash = createHash("sha256").update(randomBytes(16)).digest("hex").slice(0, 32).replace(/[eotu]/g, "0");
  return { hash, nar, info: uploadInfoOfBytes(cache, hash, "workers-test", nar) };
}

describe("atticd with HTTP worker processes (ATTIC_TS_WORKERS)", { timeout: 180_000 }, () => {
  let box: Sandbox;
  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
  });
  afterAll(async () => box?.cleanup());

  async function setup(name: string, extra = "") {
    const dir = join(box.dir, name);
    await mkdir(dir);
    const configPath = await writeConfig(dir, serverToml(dir, { extra }));
    const minted = await atticadm(
      ["-f", configPath, "make-token", "--sub", "t", "--validity", "1 day", "--pull", "*", "--push", "*", "--create-cache", "*"],
      box.env,
    );
    expect(minted.code, minted.stderr).toBe(0);
    return { dir, configPath, token: minted.stdout.trim() };
  }

  it("serves from every worker; uploads through them to one SQLite file all land; SIGTERM stops them all", async () => {
    const { configPath, token } = await setup("serve");
    const server = await startAtticd(["-f", configPath], { ...box.env, ...WORKERS });
    try {
      const pids = workerPids(server);
      expect(pids).toHaveLength(2);
      expect(pids.every(alive)).toBe(true);
      expect(pids).not.toContain(server.child.pid);

      await createCacheHttp(server.url, token, "w", true);
      // 16 uploads at once over separate connections: both workers write to the database.
      const nars = Array.from({ length: 16 }, (_, i) => syntheticNar("w", 1000 + i * 20_000));
      const statuses = await Promise.all(
        nars.map(async (n) => {
          const res = await uploadViaHeader(server.url, token, n.info, n.nar, { headers: { Connection: "close" } });
          return `${res.status} ${await res.text()}`;
        }),
      );
      expect(statuses.every((s) => s.startsWith("200 "))).toBe(true);

      // Keep-alive connections, opened at once: the primary hands them out in turn.
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      const fetchNarinfo = (hash: string) =>
        new Promise<number>((resolve, reject) => {
          get(`${server.url}/w/${hash}.narinfo`, { agent }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          }).on("error", reject);
        });
      const codes = await Promise.all(nars.map((n) => fetchNarinfo(n.hash)));
      expect(codes).toEqual(nars.map(() => 200));
      const owners = await ownersOfConnections(server.port, pids);
      agent.destroy();
      expect([...owners].sort()).toEqual([...pids].sort());

      const stopped = await server.stop("SIGTERM");
      expect(stopped.code, server.stderr()).toBe(0);
      expect(pids.some(alive)).toBe(false);
    } finally {
      await server.stop("SIGKILL");
    }
  });

  it("in api-server mode, neither the primary nor its workers migrate or collect", async () => {
    const { dir, configPath, token } = await setup("api-server");
    const unmigrated = await startAtticd(["-f", configPath, "--mode", "api-server"], { ...box.env, ...WORKERS });
    expect((await unmigrated.stop("SIGTERM")).code).toBe(0);
    const db = knexFactory({ client: "sqlite3", connection: { filename: join(dir, "server.db") }, useNullAsDefault: true });
    try {
      expect((await db("sqlite_master").where({ type: "table" }).pluck("name")) as string[]).not.toContain("cache");
    } finally {
      await db.destroy();
    }
    expect((await atticdOnce(["-f", configPath, "--mode", "db-migrations"], box.env)).code).toBe(0);
    const server = await startAtticd(["-f", configPath, "--mode", "api-server"], { ...box.env, ...WORKERS });
    try {
      expect(server.stderr()).not.toContain("periodic garbage collection");
      await createCacheHttp(server.url, token, "api", true);
      const res = await fetch(`${server.url}/api/nix-cache-info`);
      expect(res.status).toBe(200);
      expect((await server.stop("SIGTERM")).code).toBe(0);
    } finally {
      await server.stop("SIGKILL");
    }
  });

  it("replaces a worker that dies, and keeps serving", async () => {
    const { configPath, token } = await setup("replace");
    const server = await startAtticd(["-f", configPath], { ...box.env, ...WORKERS });
    try {
      const [victim, survivor] = workerPids(server);
      process.kill(victim!, "SIGKILL");
      await waitFor("the replacement", () => server.stderr().includes(`worker process ${victim} was killed by SIGKILL; starting a replacement`));
      expect(alive(survivor!)).toBe(true);
      // Every request succeeds, on fresh connections, whichever worker gets it.
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${server.url}/_api/v1/cache-config/absent`, { headers: { ...bearer(token), Connection: "close" } });
        expect(res.status).toBe(404);
      }
      expect((await server.stop("SIGTERM")).code).toBe(0);
    } finally {
      await server.stop("SIGKILL");
    }
  });

  it("stops promptly when SIGTERM arrives while a replacement worker is still starting", async () => {
    const { configPath } = await setup("stop-while-starting");
    // A long grace period: a starting worker that missed the request would hold the stop for it.
    const server = await startAtticd(["-f", configPath], { ...box.env, ...WORKERS, ATTIC_TS_SHUTDOWN_TIMEOUT: "120s" });
    try {
      const [victim] = workerPids(server);
      process.kill(victim!, "SIGKILL");
      await waitFor("the replacement", () => server.stderr().includes("starting a replacement"));
      const started = Date.now();
      expect((await server.stop("SIGTERM")).code).toBe(0);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(server.stderr()).not.toContain("killing it");
    } finally {
      await server.stop("SIGKILL");
    }
  });

  it("a Ctrl-C to the whole process group drains once (the workers ignore their own copy)", async () => {
    const { configPath } = await setup("ctrl-c");
    const child = spawn(process.execPath, [ATTICD, "-f", configPath], { env: { ...box.env, ...WORKERS }, cwd: REPO, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      await waitFor("listening", () => stderr.includes("worker processes)"));
      process.kill(-child.pid!, "SIGINT");
      expect(await exited).toBe(0);
      expect(stderr.match(/shutting down: waiting for in-flight requests/g)).toHaveLength(1);
      expect(stderr).not.toContain("aborting in-flight requests now");
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
    }
  });

  it("workers leave when the primary is killed outright", async () => {
    const { configPath } = await setup("orphans");
    const server = await startAtticd(["-f", configPath], { ...box.env, ...WORKERS });
    const pids = workerPids(server);
    await server.stop("SIGKILL");
    await waitFor("the workers to exit", () => !pids.some(alive), 15_000);
  });

  it("fails the start when a worker cannot listen, and stops the others", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const { configPath } = await setup("taken");
      const result = await atticdOnce(["-f", configPath, "-l", `127.0.0.1:${port}`], { ...box.env, ...WORKERS });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/EADDRINUSE/);
      expect(result.stderr).toMatch(/before it was ready/);
    } finally {
      taken.close();
    }
  });

  it("the primary collects garbage; the workers never do", async () => {
    // Periodic collection every second: from the primary only.
    const { configPath } = await setup("gc", '[garbage-collection]\ninterval = "1s"');
    const server = await startAtticd(["-f", configPath], { ...box.env, ...WORKERS });
    try {
      await waitFor("two collections", () => (server.stderr().match(/garbage collection finished/g) ?? []).length >= 2);
      const gcLines = server.stderr().split("\n").filter((l) => l.includes("garbage collection"));
      const pidsOfGc = new Set(gcLines.map((l) => (JSON.parse(l) as { pid: number }).pid));
      expect([...pidsOfGc]).toEqual([server.child.pid]);
      expect((await server.stop("SIGTERM")).code).toBe(0);
    } finally {
      await server.stop("SIGKILL");
    }
  });

  it("rejects a malformed ATTIC_TS_WORKERS at check-config", async () => {
    const { configPath } = await setup("bad-count");
    const result = await atticdOnce(["-f", configPath, "--mode", "check-config"], { ...box.env, ATTIC_TS_WORKERS: "two" });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('ATTIC_TS_WORKERS: expected "auto" or a whole number of processes from 1 to 256, got "two"');
  });
});
