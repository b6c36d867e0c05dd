import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configurePatch } from "../src/commands/cache.ts";
import { storePathOfLock } from "../src/commands/watch-store.ts";
import { httpServer, json, runMain, scratch } from "./helpers.ts";

let box: Awaited<ReturnType<typeof scratch>>;
let server: Awaited<ReturnType<typeof httpServer>>;
const KEY = "main:C929acssgtJoINkUtLbc81GFJPUW9maR77TxEu9ZpRw=";

beforeEach(async () => {
  box = await scratch();
  server = await httpServer((req, res) => {
    if (req.method === "GET" && req.url === "/_api/v1/cache-config/main") {
      json(res, 200, {
        substituter_endpoint: "http://cache.example:8080/main",
        api_endpoint: server.url,
        public_key: KEY,
        is_public: false,
        store_dir: "/nix/store",
        priority: 41,
        upstream_cache_key_names: ["cache.nixos.org-1", "other-1"],
        retention_period: { Period: 86400 },
      });
    } else if (req.url === "/_api/v1/cache-config/gone") {
      json(res, 404, { code: 404, error: "NoSuchCache", message: "The requested cache does not exist." });
    } else if (req.url.startsWith("/_api/v1/cache-config/")) {
      res.end();
    } else json(res, 404, { code: 404, error: "NotFound", message: "The URL you requested was not found." });
  });
});
afterEach(async () => {
  await server.close();
  await box.cleanup();
});

const nixDir = () => join(box.env.XDG_CONFIG_HOME!, "nix");
async function loginAs(token?: string) {
  const r = await runMain(["login", "srv", server.url, ...(token ? [token] : [])], box.env);
  expect(r.code, r.stderr).toBe(0);
}

describe("attic use", () => {
  it("writes substituter and key to nix.conf and the token to a 0600 netrc keyed by host", async () => {
    await loginAs("sekrit");
    await mkdir(nixDir(), { recursive: true });
    await writeFile(join(nixDir(), "nix.conf"), "# mine\nmax-jobs = 8   # cores\n");
    const r = await runMain(["use", "main"], box.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Configuring Nix to use "main" on "srv"');
    const netrc = join(nixDir(), "netrc");
    expect(await readFile(join(nixDir(), "nix.conf"), "utf8")).toBe(
      `# mine\nmax-jobs = 8   # cores\nsubstituters = http://cache.example:8080/main https://cache.nixos.org\n` +
        `trusted-public-keys = ${KEY} cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=\nnetrc-file = ${netrc}\n`,
    );
    expect(await readFile(netrc, "utf8")).toBe("machine cache.example\npassword sekrit\n");
    expect((await stat(netrc)).mode & 0o777).toBe(0o600);
    // Idempotent.
    expect((await runMain(["use", "main"], box.env)).code).toBe(0);
    expect((await readFile(join(nixDir(), "nix.conf"), "utf8")).match(/cache\.example/g)).toHaveLength(1);
    expect(await readFile(netrc, "utf8")).toBe("machine cache.example\npassword sekrit\n");
    expect(server.requests.every((q) => q.headers.authorization === "bearer sekrit")).toBe(true);
  });

  it("writes no netrc without a token", async () => {
    await loginAs();
    expect((await runMain(["use", "main"], box.env)).code).toBe(0);
    await expect(stat(join(nixDir(), "netrc"))).rejects.toThrow();
    expect(await readFile(join(nixDir(), "nix.conf"), "utf8")).not.toContain("netrc-file");
  });

  it("fails on an unparsable nix.conf and changes neither file", async () => {
    await loginAs("tok");
    await mkdir(nixDir(), { recursive: true });
    const conf = "substituters=https://x\n";
    await writeFile(join(nixDir(), "nix.conf"), conf);
    await chmod(join(nixDir(), "nix.conf"), 0o644);
    const r = await runMain(["use", "main"], box.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Line "substituters=https://x" isn't valid`);
    expect(await readFile(join(nixDir(), "nix.conf"), "utf8")).toBe(conf);
    await expect(stat(join(nixDir(), "netrc"))).rejects.toThrow();
  });

  it("prints server errors as {error}: {message} with a non-zero exit", async () => {
    await loginAs();
    const r = await runMain(["use", "gone"], box.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("NoSuchCache: The requested cache does not exist.");
  });
});

describe("attic cache", () => {
  it("create sends Attic's CreateCacheRequest with defaults and repeated flags", async () => {
    await loginAs("t");
    expect((await runMain(["cache", "create", "main"], box.env)).code).toBe(0);
    expect((await runMain(["cache", "create", "srv:other", "--public", "--priority", "30", "--upstream-cache-key-name", "a-1", "--upstream-cache-key-name", "b-1"], box.env)).code).toBe(0);
    const [a, b] = server.requests.filter((q) => q.method === "POST");
    expect(JSON.parse(a!.body.toString())).toEqual({ keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: ["cache.nixos.org-1"] });
    expect(b!.url).toBe("/_api/v1/cache-config/other");
    expect(JSON.parse(b!.body.toString())).toEqual({ keypair: "Generate", is_public: true, store_dir: "/nix/store", priority: 30, upstream_cache_key_names: ["a-1", "b-1"] });
  });

  it("configure sends only what was asked for (no retention reset, unlike Attic #350)", async () => {
    await loginAs("t");
    const run = async (...args: string[]) => {
      const r = await runMain(["cache", "configure", "main", ...args], box.env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(server.requests.filter((q) => q.method === "PATCH").at(-1)!.body.toString()) as unknown;
    };
    expect(await run("--public")).toEqual({ is_public: true });
    expect(await run("--private", "--priority", "50")).toEqual({ is_public: false, priority: 50 });
    expect(await run("--retention-period", "1 day 2h")).toEqual({ retention_period: { Period: 93600 } });
    expect(await run("--reset-retention-period", "--regenerate-keypair")).toEqual({ keypair: "Generate", retention_period: "Global" });
    expect(await run("--upstream-cache-key-name", "x-1", "--store-dir", "/other")).toEqual({ store_dir: "/other", upstream_cache_key_names: ["x-1"] });
  });

  it("configure rejects contradictory or empty requests before sending anything", () => {
    expect(() => configurePatch({ public: true, private: true })).toThrow("cannot be set at the same time");
    expect(() => configurePatch({ retentionPeriod: "1d", resetRetentionPeriod: true })).toThrow("cannot be set at the same time");
    expect(() => configurePatch({})).toThrow("Nothing to configure");
    expect(() => configurePatch({ retentionPeriod: "soon" })).toThrow("Invalid retention period");
  });

  it("info prints Attic's fields", async () => {
    await loginAs("t");
    const r = await runMain(["cache", "info", "main"], box.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("               Public: false\n");
    expect(r.stderr).toContain(`           Public Key: ${KEY}\n`);
    expect(r.stderr).toContain("Binary Cache Endpoint: http://cache.example:8080/main\n");
    expect(r.stderr).toContain(`         API Endpoint: ${server.url}\n`);
    expect(r.stderr).toContain("      Store Directory: /nix/store\n");
    expect(r.stderr).toContain("             Priority: 41\n");
    expect(r.stderr).toContain('  Upstream Cache Keys: ["cache.nixos.org-1", "other-1"]\n');
    expect(r.stderr).toContain("     Retention Period: 86400");
  });

  it("destroy asks for the cache name unless --no-confirm", async () => {
    await loginAs("t");
    const wrong = await runMain(["cache", "destroy", "main"], box.env, "nope\n");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("Incorrect answer. Aborting...");
    expect(server.requests.some((q) => q.method === "DELETE")).toBe(false);
    expect((await runMain(["cache", "destroy", "main"], box.env, "main\n")).code).toBe(0);
    expect((await runMain(["cache", "destroy", "--no-confirm", "main"], box.env)).code).toBe(0);
    expect(server.requests.filter((q) => q.method === "DELETE")).toHaveLength(2);
  });
});

describe("command line", () => {
  it("exits non-zero on usage errors and bad job counts, zero for help", async () => {
    // Usage errors exit 2, as clap's do in the upstream client; failed operations exit 1.
    expect((await runMain(["push"], box.env)).code).toBe(2);
    expect((await runMain(["frobnicate"], box.env)).code).toBe(2);
    expect((await runMain(["--help"], box.env)).code).toBe(0);
    const bad = await runMain(["cache", "create", "main", "--priority", "abc"], box.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Not an integer.");
    await loginAs("t");
    const zero = await runMain(["push", "main", "-j", "0", "/nix/store/x"], box.env);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toContain("The number of jobs cannot be 0");
  });

  it("watch-store only counts lock files of outputs", () => {
    expect(storePathOfLock(`${"a".repeat(32)}-hello.lock`)).toBe(`${"a".repeat(32)}-hello`);
    expect(storePathOfLock(`${"a".repeat(32)}-hello.drv.lock`)).toBeUndefined();
    expect(storePathOfLock(`${"a".repeat(32)}-source.lock`)).toBeUndefined();
    expect(storePathOfLock(`${"a".repeat(32)}-hello`)).toBeUndefined();
    expect(storePathOfLock("gc.lock")).toBeUndefined();
  });
});
