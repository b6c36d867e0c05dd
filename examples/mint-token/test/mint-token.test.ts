// Runs the real atticd (HS256) and the example script against it, then checks with a token
// made by `atticadm make-token` (independent of mintToken) what the server really did.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HS256_SECRET,
  REPO,
  atticadm,
  bearer,
  buildDist,
  sandbox,
  serverToml,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
} from "../../../packages/server-koa/test/cli-harness.ts";

const execFileAsync = promisify(execFile);

/** Runs the example; resolves with its exit code and output whatever the code. */
async function runExample(server: string, cache: string, secret: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [join(REPO, "node_modules/tsx/dist/cli.mjs"), "--tsconfig", "tsconfig.base.json", "--conditions=source", "examples/mint-token/src/main.ts", server, cache];
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, args, {
      cwd: REPO,
      env: { ...process.env, ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: secret },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("examples/mint-token against a real atticd", { timeout: 240_000 }, () => {
  let box: Sandbox;
  let configPath: string;
  let server: RunningAtticd;
  let admin: string;

  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
    // serverToml signs with HS256_SECRET: the value the script is given below.
    configPath = await writeConfig(box.dir, serverToml(box.dir));
    server = await startAtticd(["-f", configPath], box.env);
    const made = await atticadm(["-f", configPath, "make-token", "--sub", "admin", "--validity", "1 hour", "--pull", "*"], box.env);
    expect(made.code, made.stderr).toBe(0);
    admin = made.stdout.trim();
  });

  afterAll(async () => {
    if (server) expect((await server.stop()).code).toBe(0);
    await box?.cleanup();
  });

  it("mints with the server's secret: creates and reads a ci-* cache, and is refused the rest", async () => {
    const cache = `ci-${randomBytes(4).toString("hex")}`;
    const result = await runExample(server.url, cache, HS256_SECRET);
    expect(result.code, result.stdout + result.stderr).toBe(0);

    const claims = JSON.parse(/^minted: (.+)$/m.exec(result.stdout)![1]!) as Record<string, unknown>;
    expect(claims.sub).toBe("ci-bot");
    expect((claims.exp as number) - (claims.nbf as number)).toBe(3600);
    expect(claims["https://jwt.attic.rs/v1"]).toEqual({ caches: { "ci-*": { r: 1, w: 1, cc: 1 } } });

    expect(result.stdout).toContain(`create ${cache}: 200\n`);
    expect(result.stdout).toContain(`read ${cache}: 200\n`);
    expect(result.stdout).toContain(`destroy ${cache} (not granted): 403 AccessError\n`);
    expect(result.stdout).toContain("create prod (outside ci-*): 401 Unauthorized\n");

    // What the server holds now, seen with a token the script never had.
    const config = await fetch(`${server.url}/_api/v1/cache-config/${cache}`, { headers: bearer(admin) });
    expect(config.status).toBe(200);
    const publicKey = ((await config.json()) as { public_key: string }).public_key;
    expect(result.stdout).toContain(`public key: ${publicKey}\n`);
    expect((await fetch(`${server.url}/_api/v1/cache-config/prod`, { headers: bearer(admin) })).status).toBe(404);
  });

  it("a token minted with another secret is anonymous to the server", async () => {
    const cache = `ci-${randomBytes(4).toString("hex")}`;
    const result = await runExample(server.url, cache, randomBytes(32).toString("base64"));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`create ${cache}: 401 Unauthorized\n`);
    expect((await fetch(`${server.url}/_api/v1/cache-config/${cache}`, { headers: bearer(admin) })).status).toBe(404);
  });
});
