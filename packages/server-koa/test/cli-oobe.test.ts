import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivateKey } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import {
  CREATE_CACHE_BODY,
  atticdOnce,
  bearer,
  buildDist,
  decodeJwt,
  sandbox,
  startAtticd,
  type Sandbox,
} from "./cli-harness.ts";

const NAMESPACE = "https://jwt.attic.rs/v1";

describe("atticd first run without any config (real process)", { timeout: 180_000 }, () => {
  let box: Sandbox;
  let configPath: string;
  let dataDir: string;
  let rootToken = "";

  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
    configPath = join(box.env.XDG_CONFIG_HOME!, "attic", "server.toml");
    dataDir = join(box.env.XDG_DATA_HOME!, "attic");
  });
  afterAll(async () => box?.cleanup());

  it("does not run the setup outside monolithic mode", async () => {
    const result = await atticdOnce(["--mode", "api-server"], box.env);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(configPath);
    expect(result.stderr).not.toContain("Welcome to Attic!");
    expect(existsSync(configPath)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("writes the config, database and storage, prints a root token that the server accepts", async () => {
    const server = await startAtticd(["-l", "127.0.0.1:0"], box.env, 120_000);
    try {
      const stderr = server.stderr();
      expect(stderr).toContain("Welcome to Attic!");
      expect(stderr).toContain(configPath);
      const login = /attic login local http:\/\/localhost:8080 (\S+)/.exec(stderr);
      expect(login).not.toBeNull();
      const token = login![1]!;
      rootToken = token;

      // Files and their modes.
      expect((await stat(configPath)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dataDir, "server.db"))).isFile()).toBe(true);
      expect((await stat(join(dataDir, "storage"))).isDirectory()).toBe(true);

      // The config is Attic's template with the generated values.
      const config = parseToml(await readFile(configPath, "utf8")) as Record<string, any>;
      expect(config.listen).toBe("[::]:8080");
      expect(config["allowed-hosts"]).toEqual([]);
      expect(config.database).toEqual({ url: `sqlite://${join(dataDir, "server.db")}?mode=rwc` });
      expect(config.storage).toEqual({ type: "local", path: join(dataDir, "storage") });
      expect(config.chunking).toEqual({ "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 });
      expect(config.compression).toEqual({ type: "zstd" });
      expect(config["garbage-collection"]).toEqual({ interval: "12 hours" });
      expect(Object.keys(config.jwt.signing)).toEqual(["token-rs256-secret-base64"]);
      const pem = Buffer.from(config.jwt.signing["token-rs256-secret-base64"], "base64").toString();
      expect(pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
      expect(createPrivateKey(pem).asymmetricKeyDetails?.modulusLength).toBe(4096);

      // The root token: RS256, sub root, two years, every bit on "*".
      const { header, payload } = decodeJwt(token);
      expect(header.alg).toBe("RS256");
      expect(payload.sub).toBe("root");
      const lifetime = (payload.exp as number) - (payload.nbf as number);
      expect(lifetime).toBeGreaterThanOrEqual(730 * 86_400);
      expect(lifetime).toBeLessThanOrEqual(731 * 86_400);
      expect(payload[NAMESPACE]).toEqual({ caches: { "*": { r: 1, w: 1, d: 1, cc: 1, cr: 1, cq: 1, cd: 1 } } });

      // It works against the server it started.
      const created = await fetch(`${server.url}/_api/v1/cache-config/first`, {
        method: "POST",
        headers: { ...bearer(token), "Content-Type": "application/json" },
        body: CREATE_CACHE_BODY,
      });
      expect(created.status).toBe(200);
      const info = await fetch(`${server.url}/first/nix-cache-info`, { headers: bearer(token) });
      expect(info.status).toBe(200);
      expect(await info.text()).toContain("StoreDir: /nix/store");
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });

  it("runs the setup once: the second start keeps the config and the data", async () => {
    const before = await readFile(configPath, "utf8");
    const server = await startAtticd(["-l", "127.0.0.1:0"], box.env);
    try {
      expect(server.stderr()).not.toContain("Welcome to Attic!");
      expect(await readFile(configPath, "utf8")).toBe(before);
      // The cache created in the first run is still there (same database, same key).
      expect(rootToken).not.toBe("");
      expect((await fetch(`${server.url}/_api/v1/cache-config/first`, { headers: bearer(rootToken) })).status).toBe(200);
    } finally {
      expect((await server.stop("SIGINT")).code).toBe(0);
    }
  });
});
