import { afterAll, beforeAll, describe, expect, it } from "vitest";
import knexFactory from "knex";
import { join } from "node:path";
import {
  CREATE_CACHE_BODY,
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
} from "./cli-harness.ts";

async function makeToken(configPath: string, env: NodeJS.ProcessEnv, flags: string[]): Promise<string> {
  const result = await atticadm(["-f", configPath, "make-token", "--sub", "tester", "--validity", "1 hour", ...flags], env);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

describe("atticd serving (real process)", { timeout: 180_000 }, () => {
  let box: Sandbox;
  let configPath: string;
  let server: RunningAtticd;

  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
    configPath = await writeConfig(box.dir, serverToml(box.dir));
    server = await startAtticd(["-f", configPath], box.env);
  });

  afterAll(async () => {
    await server?.stop("SIGKILL");
    await box?.cleanup();
  });

  it("prints Attic's banner and the bound address, and answers / and the API", async () => {
    expect(server.stderr()).toContain("Attic Server 0.1.0 (attic-ts)");
    expect(server.port).toBeGreaterThan(0);
    expect(server.stderr()).toContain(`Listening on http://127.0.0.1:${server.port}`);

    const root = await fetch(`${server.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toMatch(/text\/html/);
    expect(await root.text()).toContain("<html");

    const anonymous = await fetch(`${server.url}/_api/v1/cache-config/x`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 401, error: "Unauthorized" });
  });

  it("accepts atticadm tokens: create-cache creates, a token without it is refused", async () => {
    const creator = await makeToken(configPath, box.env, ["--pull", "team-*", "--create-cache", "team-*"]);
    const created = await fetch(`${server.url}/_api/v1/cache-config/team-a`, {
      method: "POST",
      headers: { ...bearer(creator), "Content-Type": "application/json" },
      body: CREATE_CACHE_BODY,
    });
    expect(created.status).toBe(200);

    const config = await fetch(`${server.url}/_api/v1/cache-config/team-a`, { headers: bearer(creator) });
    expect(config.status).toBe(200);
    expect(await config.json()).toMatchObject({ is_public: false, store_dir: "/nix/store", priority: 41 });

    // Discovery (pull on the pattern) but no create-cache bit: 403.
    const reader = await makeToken(configPath, box.env, ["--pull", "team-*"]);
    const denied = await fetch(`${server.url}/_api/v1/cache-config/team-b`, {
      method: "POST",
      headers: { ...bearer(reader), "Content-Type": "application/json" },
      body: CREATE_CACHE_BODY,
    });
    expect(denied.status).toBe(403);

    // No permission on the name at all: 401.
    const stranger = await makeToken(configPath, box.env, ["--pull", "other"]);
    const unknown = await fetch(`${server.url}/_api/v1/cache-config/team-c`, {
      method: "POST",
      headers: { ...bearer(stranger), "Content-Type": "application/json" },
      body: CREATE_CACHE_BODY,
    });
    expect(unknown.status).toBe(401);
  });

  it("honours every permission flag of make-token end to end", async () => {
    const all = await makeToken(configPath, box.env, [
      "--pull", "full-*", "--push", "full-*", "--delete", "full-*", "--create-cache", "full-*",
      "--configure-cache", "full-*", "--configure-cache-retention", "full-*", "--destroy-cache", "full-*",
    ]);
    const url = `${server.url}/_api/v1/cache-config/full-1`;
    const json = { ...bearer(all), "Content-Type": "application/json" };
    expect((await fetch(url, { method: "POST", headers: json, body: CREATE_CACHE_BODY })).status).toBe(200);
    const patch = await fetch(url, { method: "PATCH", headers: json, body: JSON.stringify({ is_public: true, retention_period: { Period: 60 } }) });
    expect(patch.status).toBe(200);
    const missing = await fetch(`${server.url}/_api/v1/get-missing-paths`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ cache: "full-1", store_path_hashes: ["0c0i3yz5fzpf0rlqwz02fhbgkwdh4r7c"] }),
    });
    expect(missing.status).toBe(200);
    expect(await missing.json()).toEqual({ missing_paths: ["0c0i3yz5fzpf0rlqwz02fhbgkwdh4r7c"] });
    expect((await fetch(url, { method: "DELETE", headers: bearer(all) })).status).toBe(200);
    expect((await fetch(url, { headers: bearer(all) })).status).toBe(404);

    // Without configure-cache-retention, a retention change is refused.
    const noRetention = await makeToken(configPath, box.env, ["--pull", "full-*", "--create-cache", "full-*", "--configure-cache", "full-*"]);
    const json2 = { ...bearer(noRetention), "Content-Type": "application/json" };
    expect((await fetch(`${server.url}/_api/v1/cache-config/full-2`, { method: "POST", headers: json2, body: CREATE_CACHE_BODY })).status).toBe(200);
    const refused = await fetch(`${server.url}/_api/v1/cache-config/full-2`, {
      method: "PATCH",
      headers: json2,
      body: JSON.stringify({ retention_period: { Period: 60 } }),
    });
    expect(refused.status).toBe(403);
  });
});

describe("atticd modes", { timeout: 180_000 }, () => {
  let box: Sandbox;
  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
  });
  afterAll(async () => box?.cleanup());

  it("db-migrations creates Attic's tables and exits 0; api-server then serves without migrating", async () => {
    // The config's own listen would bind port 8080; --listen overrides it.
    const configPath = await writeConfig(box.dir, serverToml(box.dir, { listen: "[::]:8080" }), "modes.toml");
    const migrated = await atticdOnce(["-f", configPath, "--mode", "db-migrations"], box.env);
    expect(migrated.stderr).toContain("Attic Server 0.1.0 (attic-ts)");
    expect(migrated.code).toBe(0);

    const knex = knexFactory({ client: "sqlite3", connection: { filename: join(box.dir, "server.db") }, useNullAsDefault: true });
    try {
      const tables = (await knex("sqlite_master").where({ type: "table" }).pluck("name")) as string[];
      expect(tables).toEqual(expect.arrayContaining(["cache", "object", "nar", "chunk", "chunkref", "seaql_migrations"]));
      const versions = (await knex("seaql_migrations").pluck("version")) as string[];
      expect(versions).toContain("m20221227_000001_create_cache_table");
    } finally {
      await knex.destroy();
    }

    const server = await startAtticd(["-f", configPath, "--mode", "api-server", "-l", "127.0.0.1:0"], box.env);
    try {
      expect(server.stderr()).toMatch(/Listening on http:\/\/127\.0\.0\.1:\d+/);
      expect((await fetch(`${server.url}/_api/v1/cache-config/nope`)).status).toBe(401);
    } finally {
      expect((await server.stop("SIGTERM")).code).toBe(0);
    }
  });

  it("api-server on an unmigrated database does not create the tables", async () => {
    const dir = join(box.dir, "fresh");
    await import("node:fs/promises").then((fs) => fs.mkdir(dir));
    const configPath = await writeConfig(dir, serverToml(dir));
    const server = await startAtticd(["-f", configPath, "--mode", "api-server"], box.env);
    await server.stop("SIGTERM");
    const knex = knexFactory({ client: "sqlite3", connection: { filename: join(dir, "server.db") }, useNullAsDefault: true });
    try {
      const tables = (await knex("sqlite_master").where({ type: "table" }).pluck("name")) as string[];
      expect(tables).not.toContain("cache");
    } finally {
      await knex.destroy();
    }
  });

  it("rejects an unknown mode, an unknown flag and a bad --listen", async () => {
    const mode = await atticdOnce(["--mode", "serve-everything"], box.env);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain("monolithic, api-server");
    const flag = await atticdOnce(["--frobnicate"], box.env);
    expect(flag.code).toBe(2);
    const configPath = await writeConfig(box.dir, serverToml(box.dir), "listen.toml");
    const listen = await atticdOnce(["-f", configPath, "-l", "nowhere"], box.env);
    expect(listen.code).toBe(78);
    expect(listen.stderr).toContain("--listen");
  });
});
