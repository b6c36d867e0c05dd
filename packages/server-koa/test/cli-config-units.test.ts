import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@attic-ts/core";
import { logLevelFromEnv } from "../src/cli/create-logger.ts";
import { applyEnvOverrides, hasJwtSigning } from "../src/config/env-overrides.ts";
import { formatHttpUrl, parseListenAddress } from "../src/config/listen-address.ts";
import { isFirstRun, loadServerConfig, locateServerConfig, parseServerToml, validateServerConfig } from "../src/config/load-server-config.ts";
import { renderServerConfig } from "../src/config/config-template.ts";
import { HS256_SECRET, serverToml } from "./cli-harness.ts";

describe("listen addresses", () => {
  it("parses Attic's forms and localhost", () => {
    expect(parseListenAddress("[::]:8080")).toEqual({ host: "::", port: 8080 });
    expect(parseListenAddress("0.0.0.0:8080")).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(parseListenAddress("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListenAddress("localhost:8080")).toEqual({ host: "localhost", port: 8080 });
    expect(parseListenAddress("[::1]:443")).toEqual({ host: "::1", port: 443 });
  });

  it("rejects what is not an address and a port", () => {
    for (const bad of ["8080", "[::]", "::8080", "host:99999", "host:", "a b:1", ""]) {
      expect(() => parseListenAddress(bad, "server.toml"), bad).toThrow(ConfigError);
    }
    expect(() => parseListenAddress("nope", "server.toml")).toThrow(/server\.toml: listen: expected/);
  });

  it("formats bound addresses as URLs", () => {
    expect(formatHttpUrl("127.0.0.1", 80)).toBe("http://127.0.0.1:80");
    expect(formatHttpUrl("::", 8080)).toBe("http://[::]:8080");
  });
});

describe("log level from the environment", () => {
  it("reads ATTIC_LOG, then RUST_LOG directives", () => {
    expect(logLevelFromEnv({})).toBe("info");
    expect(logLevelFromEnv({ ATTIC_LOG: "debug", RUST_LOG: "error" })).toBe("debug");
    expect(logLevelFromEnv({ RUST_LOG: "warn" })).toBe("warn");
    expect(logLevelFromEnv({ RUST_LOG: "attic_server=trace,tower=warn" })).toBe("trace");
    expect(logLevelFromEnv({ RUST_LOG: "error,attic=debug" })).toBe("error");
    expect(logLevelFromEnv({ RUST_LOG: "off" })).toBe("silent");
    expect(logLevelFromEnv({ RUST_LOG: "loud" })).toBe("info");
  });
});

describe("environment fallbacks", () => {
  const base = () => ({ database: {}, storage: { type: "local", path: "/s" } });

  it("fills database.url only when it is absent and the variable is non-empty", () => {
    expect(applyEnvOverrides(base(), { ATTIC_SERVER_DATABASE_URL: "sqlite://x" }).database).toEqual({ url: "sqlite://x" });
    expect(applyEnvOverrides({ database: { url: "sqlite://mine" } }, { ATTIC_SERVER_DATABASE_URL: "sqlite://x" }).database).toEqual({
      url: "sqlite://mine",
    });
    expect(applyEnvOverrides(base(), { ATTIC_SERVER_DATABASE_URL: "" }).database).toEqual({});
  });

  it("picks the first non-empty signing variable, keeps [jwt] keys, never overrides [jwt.signing]", () => {
    const env = { ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64: "", ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64: "rs", ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: "hs" };
    expect(applyEnvOverrides(base(), env).jwt).toEqual({ signing: { "token-rs256-secret-base64": "rs" } });
    expect(applyEnvOverrides({ jwt: { "token-bound-issuer": "i" } }, env).jwt).toEqual({
      "token-bound-issuer": "i",
      signing: { "token-rs256-secret-base64": "rs" },
    });
    const own = { jwt: { signing: { "token-hs256-secret-base64": "mine" } } };
    expect(applyEnvOverrides(own, env)).toEqual(own);
    expect(hasJwtSigning(applyEnvOverrides(base(), {}))).toBe(false);
  });
});

describe("loading and validating server.toml", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "attic-ts-config-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("follows Attic's order: -f, ATTIC_SERVER_CONFIG_BASE64, then the XDG file", async () => {
    const env = { XDG_CONFIG_HOME: join(dir, "xdg"), HOME: dir };
    expect(locateServerConfig({ configPath: "/x.toml", env: { ...env, ATTIC_SERVER_CONFIG_BASE64: "eA==" } })).toEqual({
      kind: "file",
      path: "/x.toml",
      explicit: true,
    });
    expect(locateServerConfig({ env: { ...env, ATTIC_SERVER_CONFIG_BASE64: "eA==" } })).toEqual({ kind: "base64", text: "eA==" });
    const xdg = locateServerConfig({ env });
    expect(xdg).toEqual({ kind: "file", path: join(dir, "xdg", "attic", "server.toml"), explicit: false });
    expect(isFirstRun(xdg)).toBe(true);
    // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
    expect(locateServerConfig({ env: { XDG_CONFIG_HOME: "rel", HOME: dir } })).toMatchObject({ path: join(dir, ".config/attic/server.toml") });

    await writeFile(join(dir, "a.toml"), serverToml(dir));
    const loaded = await loadServerConfig({ configPath: join(dir, "a.toml"), env: {} });
    expect(loaded.source).toBe(join(dir, "a.toml"));
    expect(validateServerConfig(loaded.raw, loaded.source).chunking["avg-size"]).toBe(65536);
  });

  it("reports TOML syntax errors with line and column, without echoing the text", () => {
    try {
      parseServerToml('a = "secret-value"\nb = [\n', "f.toml");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^f\.toml: TOML syntax error at line \d+, column \d+: /);
      expect((err as Error).message).not.toContain("secret-value");
    }
  });

  it("reports schema errors before a missing signing key", async () => {
    await writeFile(join(dir, "b.toml"), `bogus = 1\n${serverToml(dir, { signing: null })}`);
    await expect(loadServerConfig({ configPath: join(dir, "b.toml"), env: {} })).rejects.toThrow(/unknown key\(s\) "bogus"/);
    await writeFile(join(dir, "c.toml"), serverToml(dir, { signing: null }));
    await expect(loadServerConfig({ configPath: join(dir, "c.toml"), env: {} })).rejects.toThrow(/ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64/);
    const viaEnv = await loadServerConfig({ configPath: join(dir, "c.toml"), env: { ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: HS256_SECRET } });
    expect(viaEnv.raw.jwt).toEqual({ signing: { "token-hs256-secret-base64": HS256_SECRET } });
  });

  it("renders the first-run template as valid TOML, escaping odd paths", () => {
    const text = renderServerConfig({ databaseUrl: 'sqlite:///a "b"/$&.db?mode=rwc', storagePath: "/c\\d", rs256SecretBase64: "QUJD" });
    const parsed = parseServerToml(text, "t") as Record<string, any>;
    expect(parsed.database.url).toBe('sqlite:///a "b"/$&.db?mode=rwc');
    expect(parsed.storage.path).toBe("/c\\d");
    expect(parsed.jwt.signing).toEqual({ "token-rs256-secret-base64": "QUJD" });
  });
});
