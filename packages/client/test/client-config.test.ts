import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadClientConfig, resolveCache, saveClientConfig, serverToken } from "../src/config/client-config.ts";
import { clientConfigPath } from "../src/config/xdg.ts";
import { runMain, scratch } from "./helpers.ts";

let box: Awaited<ReturnType<typeof scratch>>;
beforeEach(async () => (box = await scratch()));
afterEach(async () => box.cleanup());

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe("client config file", () => {
  it("lives in $XDG_CONFIG_HOME/attic/config.toml, else ~/.config", () => {
    expect(clientConfigPath({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/attic/config.toml");
    expect(clientConfigPath({ HOME: "/h" })).toBe("/h/.config/attic/config.toml");
    expect(clientConfigPath({ XDG_CONFIG_HOME: "relative", HOME: "/h" })).toBe("/h/.config/attic/config.toml");
  });

  it("reads a missing file as empty and round-trips what it writes, with mode 0600", async () => {
    const path = join(box.dir, "c", "config.toml");
    expect(await loadClientConfig(path)).toEqual({ servers: {} });
    const data = { "default-server": "central", servers: { central: { endpoint: "https://attic.example/", token: "eyJ" }, other: { endpoint: "http://x/", "token-file": "/run/t" } } };
    await saveClientConfig(path, data);
    expect(await mode(path)).toBe(0o600);
    expect(await loadClientConfig(path)).toEqual(data);
    const text = await readFile(path, "utf8");
    expect(text).toMatch(/^default-server = "central"$/m);
    expect(text).toMatch(/^\[servers\.central\]$/m);
    expect(text).toMatch(/^token-file = "\/run\/t"$/m);
  });

  it("tightens an existing file's mode to 0600 on save", async () => {
    const path = join(box.dir, "config.toml");
    await writeFile(path, "");
    await chmod(path, 0o644);
    await saveClientConfig(path, { servers: { a: { endpoint: "http://a/", token: "secret" } } });
    expect(await mode(path)).toBe(0o600);
  });

  it("reads Attic-written files with token-file and rejects a server without endpoint", async () => {
    const path = join(box.dir, "config.toml");
    await writeFile(path, 'default-server = "a"\n[servers.a]\nendpoint = "http://a/"\ntoken-file = "/t"\n');
    expect((await loadClientConfig(path)).servers.a).toEqual({ endpoint: "http://a/", "token-file": "/t" });
    await writeFile(path, "[servers.b]\ntoken = \"x\"\n");
    await expect(loadClientConfig(path)).rejects.toThrow(/has no endpoint/);
    await writeFile(path, "not toml [");
    await expect(loadClientConfig(path)).rejects.toThrow(/Invalid configuration file/);
  });

  it("trims the token read from token-file and reports an unreadable one", async () => {
    const file = join(box.dir, "token");
    await writeFile(file, "  eyJ.token.sig \n\n");
    expect(await serverToken({ endpoint: "x", "token-file": file })).toBe("eyJ.token.sig");
    expect(await serverToken({ endpoint: "x", token: " kept as is " })).toBe(" kept as is ");
    expect(await serverToken({ endpoint: "x" })).toBeUndefined();
    await expect(serverToken({ endpoint: "x", "token-file": join(box.dir, "nope") })).rejects.toThrow(/Failed to read token from/);
  });

  it("resolves named, default and first servers", () => {
    const data = { servers: { a: { endpoint: "http://a/" }, b: { endpoint: "http://b/" } } };
    expect(resolveCache(data, { server: undefined, cache: "c" }).serverName).toBe("a");
    expect(resolveCache({ ...data, "default-server": "b" }, { server: undefined, cache: "c" }).serverName).toBe("b");
    expect(resolveCache(data, { server: "b", cache: "c" }).server.endpoint).toBe("http://b/");
    expect(() => resolveCache(data, { server: "z", cache: "c" })).toThrow('Server "z" does not exist');
    expect(() => resolveCache({ ...data, "default-server": "z" }, { server: undefined, cache: "c" })).toThrow(/default server "z" does not exist/);
    expect(() => resolveCache({ servers: {} }, { server: undefined, cache: "c" })).toThrow("No servers are available.");
  });
});

describe("attic login", () => {
  it("adds servers, keeps an existing token when none is given, and sets the default", async () => {
    const path = clientConfigPath(box.env);
    expect((await runMain(["login", "first", "http://one/", "t1"], box.env)).code).toBe(0);
    let c = await loadClientConfig(path);
    expect(c["default-server"]).toBe("first"); // the only server becomes the default
    expect(await mode(path)).toBe(0o600);

    expect((await runMain(["login", "second", "http://two/"], box.env)).code).toBe(0);
    c = await loadClientConfig(path);
    expect(c["default-server"]).toBe("first");
    expect(c.servers.second).toEqual({ endpoint: "http://two/" });

    const r = await runMain(["login", "first", "http://uno/", "--set-default"], box.env);
    expect(r.stderr).toContain('Overwriting server "first"');
    c = await loadClientConfig(path);
    expect(c.servers.first).toEqual({ endpoint: "http://uno/", token: "t1" });

    await runMain(["login", "second", "http://two/", "t2", "--set-default"], box.env);
    expect((await loadClientConfig(path))["default-server"]).toBe("second");
  });

  it("replaces a token-file with a given token, and rejects bad names and endpoints", async () => {
    const path = clientConfigPath(box.env);
    await mkdir(join(box.env.XDG_CONFIG_HOME!, "attic"), { recursive: true });
    await writeFile(path, '[servers.a]\nendpoint = "http://a/"\ntoken-file = "/t"\n');
    await runMain(["login", "a", "http://a/", "new"], box.env);
    expect((await loadClientConfig(path)).servers.a).toEqual({ endpoint: "http://a/", token: "new" });

    const bad = await runMain(["login", "bad name", "http://a/"], box.env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Invalid server name "bad name"');
    expect((await runMain(["login", "ok", "not a url"], box.env)).code).not.toBe(0);
  });
});
