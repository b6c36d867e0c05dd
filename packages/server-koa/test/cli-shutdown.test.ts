import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request, type ClientRequest } from "node:http";
import { join } from "node:path";
import knexFactory, { type Knex } from "knex";
import {
  CREATE_CACHE_BODY,
  atticadm,
  bearer,
  buildDist,
  listFiles,
  sandbox,
  serverToml,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
  waitFor,
} from "./cli-harness.ts";
import { uploadInfoOfBytes } from "../../../test/helpers/data.ts";

const MiB = 1024 * 1024;

/** Deterministic incompressible bytes (xorshift32). */
function narBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

interface Upload {
  req: ClientRequest;
  /** Settles with the response, or with the error when the server drops the connection. */
  result: Promise<{ status: number; body: string } | { error: Error }>;
}

/** Starts `PUT /_api/v1/upload-path` and sends only `firstBytes` of the NAR. */
function startUpload(server: RunningAtticd, token: string, storePathHash: string, nar: Buffer, firstBytes: number): Upload {
  const info = uploadInfoOfBytes("up", storePathHash, "shutdown-test", nar);
  const req = request({
    host: "127.0.0.1",
    port: server.port,
    method: "PUT",
    path: "/_api/v1/upload-path",
    headers: {
      ...bearer(token),
      "Content-Type": "application/octet-stream",
      "Content-Length": String(nar.length),
      "X-Attic-Nar-Info": JSON.stringify(info),
    },
  });
  const result = new Promise<{ status: number; body: string } | { error: Error }>((resolve) => {
    req.on("error", (error) => resolve({ error }));
    req.on("response", (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", (error) => resolve({ error }));
    });
  });
  req.write(nar.subarray(0, firstBytes));
  return { req, result };
}

async function count(db: Knex, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const row = (await db(table).where(where).count({ n: "*" }).first()) as { n: number | string };
  return Number(row.n);
}

async function chunkFiles(storage: string): Promise<string[]> {
  return (await listFiles(storage)).filter((f) => f.endsWith(".chunk"));
}

describe("atticd graceful shutdown (real process)", { timeout: 180_000 }, () => {
  let box: Sandbox;
  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
  });
  afterAll(async () => box?.cleanup());

  /** A fresh server in its own directory, a cache "up" and a push token for it. */
  async function setup(name: string, env: Record<string, string> = {}) {
    const dir = join(box.dir, name);
    await import("node:fs/promises").then((fs) => fs.mkdir(dir));
    const configPath = await writeConfig(dir, serverToml(dir));
    const server = await startAtticd(["-f", configPath], { ...box.env, ...env });
    const minted = await atticadm(
      ["-f", configPath, "make-token", "--sub", "ci", "--validity", "1h", "--pull", "up", "--push", "up", "--create-cache", "up"],
      box.env,
    );
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    const created = await fetch(`${server.url}/_api/v1/cache-config/up`, {
      method: "POST",
      headers: { ...bearer(token), "Content-Type": "application/json" },
      body: CREATE_CACHE_BODY,
    });
    expect(created.status).toBe(200);
    const db = knexFactory({ client: "sqlite3", connection: { filename: join(dir, "server.db") }, useNullAsDefault: true });
    return { server, token, db, storage: join(dir, "storage") };
  }

  it("SIGTERM: after the grace period the stalled upload is aborted, cleaned up, and atticd exits 0", async () => {
    const { server, token, db, storage } = await setup("term", { ATTIC_TS_SHUTDOWN_TIMEOUT: "1s" });
    try {
      const nar = narBytes(7, 4 * MiB);
      const upload = startUpload(server, token, "0c0i3yz5fzpf0rlqwz02fhbgkwdh4r7c", nar, MiB);
      // The upload is really in progress: chunks are stored and recorded.
      await waitFor("stored chunks", async () => (await count(db, "chunk")) > 0 && (await chunkFiles(storage)).length > 0);
      expect(await count(db, "nar", { state: "P" })).toBe(1);

      const exit = await server.stop("SIGTERM");
      expect(exit, server.stderr()).toEqual({ code: 0, signal: null });
      expect(server.stderr()).toContain("grace period over");
      expect(server.stderr()).toContain('"msg":"stopped"');
      expect("error" in (await upload.result)).toBe(true);

      for (const table of ["nar", "chunk", "chunkref", "object"]) expect(await count(db, table), table).toBe(0);
      expect(await chunkFiles(storage)).toEqual([]);
      expect(await listFiles(storage)).toEqual(["VERSION"]);
    } finally {
      await db.destroy();
      await server.stop("SIGKILL");
    }
  });

  it("SIGINT: stops accepting, lets the in-flight upload finish, then exits 0", async () => {
    const { server, token, db } = await setup("int");
    try {
      const nar = narBytes(11, 2 * MiB);
      const upload = startUpload(server, token, "1b9p07z77phvv2hf6gm9f28syp39f1ag", nar, MiB / 2);
      await waitFor("stored chunks", async () => (await count(db, "chunk")) > 0);

      server.child.kill("SIGINT");
      await waitFor("shutdown to begin", async () => server.stderr().includes("shutting down"));
      // New connections are refused while the upload drains.
      await expect(fetch(`${server.url}/`)).rejects.toThrow();

      upload.req.end(nar.subarray(MiB / 2));
      const result = await upload.result;
      expect(result).toMatchObject({ status: 200 });
      expect(JSON.parse((result as { body: string }).body)).toMatchObject({ kind: "Uploaded" });

      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stderr()).not.toContain("grace period over");
      expect(await count(db, "nar", { state: "V" })).toBe(1);
      expect(await count(db, "nar", { state: "P" })).toBe(0);
      expect(await count(db, "object")).toBe(1);
    } finally {
      await db.destroy();
      await server.stop("SIGKILL");
    }
  });

  it("a second signal aborts the in-flight upload at once", async () => {
    const { server, token, db, storage } = await setup("twice");
    try {
      const nar = narBytes(13, 4 * MiB);
      const upload = startUpload(server, token, "2cdp07z77phvv2hf6gm9f28syp39f1ag", nar, MiB);
      await waitFor("stored chunks", async () => (await count(db, "chunk")) > 0);
      const started = Date.now();
      server.child.kill("SIGTERM");
      await waitFor("shutdown to begin", async () => server.stderr().includes("shutting down"));
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
      // Far below the default 30 s grace period.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect("error" in (await upload.result)).toBe(true);
      for (const table of ["nar", "chunk", "chunkref", "object"]) expect(await count(db, table), table).toBe(0);
      expect(await chunkFiles(storage)).toEqual([]);
    } finally {
      await db.destroy();
      await server.stop("SIGKILL");
    }
  });
});
