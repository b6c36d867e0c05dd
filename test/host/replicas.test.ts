import { createHash, randomBytes } from "node:crypto";
import knex from "knex";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { NativeCompressor } from "@attic-ts/compression";
import {
  atticadm,
  atticdOnce,
  buildDist,
  sandbox,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
} from "../../packages/server-koa/test/cli-harness.ts";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.ts";
import { adminClient, createBucket, s3Settings } from "../helpers/s3.ts";
import { collect, pseudoRandomBytes } from "../helpers/data.ts";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";

/**
 * Issue #4's replicas: two `atticd --mode api-server` processes (migrations by
 * `--mode db-migrations` first) on one PostgreSQL database and one S3 bucket. Pushes and pulls
 * go through either; 20 concurrent pushes of one path split across both end with exactly one
 * valid NAR row, and the bytes served by both verify against its NarHash.
 */

let box: Sandbox;
let db: TestDatabase;
let replicas: RunningAtticd[] = [];
let configPath: string;
let token: string;
const decoder = new NativeCompressor({ workers: 1 });
const cache = `replica-${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  await buildDist();
  box = await sandbox();
  db = await createTestDatabase(inject("postgresUrl"), "replicas");
  const s3 = s3Settings();
  const bucket = await createBucket(adminClient(s3), "replicas");
  const secret = Buffer.from(`replica secret ${randomBytes(8).toString("hex")}`).toString("base64");
  configPath = await writeConfig(
    box.dir,
    [
      'listen = "127.0.0.1:0"',
      "[database]",
      `url = ${JSON.stringify(db.url)}`,
      "[storage]",
      'type = "s3"',
      `region = ${JSON.stringify(s3.region)}`,
      `bucket = ${JSON.stringify(bucket)}`,
      `endpoint = ${JSON.stringify(s3.endpoint)}`,
      "[storage.credentials]",
      `access_key_id = ${JSON.stringify(s3.accessKeyId)}`,
      `secret_access_key = ${JSON.stringify(s3.secretAccessKey)}`,
      "[chunking]",
      "nar-size-threshold = 1",
      "min-size = 4096",
      "avg-size = 16384",
      "max-size = 65536",
      "[jwt.signing]",
      `token-hs256-secret-base64 = ${JSON.stringify(secret)}`,
    ].join("\n"),
  );
  const migrated = await atticdOnce(["-f", configPath, "--mode", "db-migrations"], box.env);
  expect(migrated.code, migrated.stderr).toBe(0);
  replicas = await Promise.all([0, 1].map(() => startAtticd(["-f", configPath, "--mode", "api-server"], box.env)));
  const minted = await atticadm(["-f", configPath, "make-token", "--sub", "ci", "--validity", "1 day", "--pull", "*", "--push", "*", "--create-cache", "*"], box.env);
  expect(minted.code, minted.stderr).toBe(0);
  token = minted.stdout.trim();
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await decoder.close();
  await db?.drop();
  await box?.cleanup();
});

describe("two api-server replicas on one PostgreSQL and one bucket", () => {
  it("split 20 concurrent pushes of one path and keep exactly one valid NAR", async () => {
    const [a, b] = replicas as [RunningAtticd, RunningAtticd];
    const created = await fetch(`${a.url}/_api/v1/cache-config/${cache}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] }),
    });
    expect(created.status).toBe(200);

    const path = await addFiles(`replicas-${randomBytes(3).toString("hex")}`, { "data.bin": pseudoRandomBytes(77, 600_000) });
    const info = await uploadInfoFor(cache, path);
    const nar = await collect(dumpNar(path));
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${(i % 2 === 0 ? a : b).url}/_api/v1/upload-path`, {
          method: "PUT",
          headers: { Authorization: `Bearer ${token}`, "X-Attic-Nar-Info": JSON.stringify(info) },
          body: nar,
        }),
      ),
    );
    const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as { kind: string } })));
    for (const r of bodies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(bodies.some((r) => r.body.kind === "Uploaded")).toBe(true);

    const sql = knex({ client: "pg", connection: db.url });
    try {
      const valid = await sql("nar").where({ state: "V" });
      expect(valid).toHaveLength(1);
      expect(Number((await sql("nar").count({ n: "*" }))[0]!.n)).toBe(1);
      expect(Number((await sql("object").count({ n: "*" }))[0]!.n)).toBe(1);
      const held = await sql("chunk").where("holders_count", ">", 0).orWhereNot("state", "V");
      expect(held).toHaveLength(0);
    } finally {
      await sql.destroy();
    }

    const narHash = info.nar_hash;
    for (const replica of [a, b]) {
      const served = await fetch(`${replica.url}/${cache}/nar/${info.store_path_hash}.nar`, { headers: { Authorization: `Bearer ${token}` } });
      expect(served.status).toBe(200);
      const plain = await collect(decoder.decompress("zstd", (async function* () { yield new Uint8Array(await served.arrayBuffer()); })()));
      const sri = `sha256-${createHash("sha256").update(plain).digest("base64")}`;
      expect(sri).toBe(narHash);
    }
  });
});
