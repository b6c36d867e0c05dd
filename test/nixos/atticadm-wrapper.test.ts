import { createHmac, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTICADM, buildDist, run, sandbox, type Sandbox } from "../../packages/server-koa/test/cli-harness.ts";
import { requireNix } from "../helpers/nix.ts";
import { LIB, NIXOS_DIR, moduleSettingsExpr, nixEval, renderTomlLikeNixpkgs } from "./nix-eval.ts";

/**
 * `atticd-atticadm` outside NixOS: the module renders nixos/atticadm-wrapper.sh and
 * nixos/atticadm-shim.sh with nixos/lib.nix's `substitutePlaceholders`; here the real Nix does
 * the same with this machine's paths (some with spaces), and bash runs the results against the
 * real atticadm. The tokens are verified with the credentials file's secret.
 */

let box: Sandbox;
let dir: string;
let secret: Buffer;
let credentialsFile: string;
let shim: string;
let wrapper: string;
let fakeSystemdRun: string;
let systemdRunLog: string;

/** Renders one of the module's scripts through Nix, as the module does, and makes it executable. */
async function render(template: string, values: Record<string, string>, out: string): Promise<string> {
  const attrs = Object.entries(values)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)};`)
    .join(" ");
  const text = await nixEval<string>(
    `${LIB}.substitutePlaceholders (builtins.readFile ${join(NIXOS_DIR, template)}) { ${attrs} }`,
  );
  await writeFile(out, text);
  await chmod(out, 0o755);
  return out;
}

/** The environment systemd gives the transient unit: the file's variables, little else. */
function unitEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: box.env.HOME, ...extra };
  return env;
}

/** Checks an HS256 JWT's signature with `key` and returns its claims. */
function verifyHs256(token: string, key: Buffer): Record<string, any> {
  const [header, payload, signature] = token.trim().split(".");
  expect(JSON.parse(Buffer.from(header!, "base64url").toString())).toMatchObject({ alg: "HS256" });
  const expected = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  expect(signature, "the signature verifies with the credentials file's secret").toBe(expected);
  return JSON.parse(Buffer.from(payload!, "base64url").toString());
}

const MAKE_TOKEN = ["make-token", "--sub", "alice", "--validity", "1 day", "--pull", "alice-*", "--push", "alice-ci"];

function expectAliceToken(stdout: string) {
  const claims = verifyHs256(stdout, secret);
  expect(claims.sub).toBe("alice");
  expect(claims.exp - claims.nbf).toBe(86_400);
  expect(claims["https://jwt.attic.rs/v1"]).toEqual({ caches: { "alice-*": { r: 1 }, "alice-ci": { w: 1 } } });
}

beforeAll(async () => {
  await requireNix();
  await buildDist();
  box = await sandbox();
  // Spaces in every path the scripts are given, to prove the quoting.
  dir = join(await mkdtemp(join(tmpdir(), "attic-ts-nixos-wrapper-")), "state dir");
  await mkdir(dir, { recursive: true });

  secret = randomBytes(64);
  credentialsFile = join(dir, "atticd.env");
  await writeFile(credentialsFile, `ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64="${secret.toString("base64")}"\n`, { mode: 0o600 });

  const settings = await nixEval<Record<string, unknown>>(
    moduleSettingsExpr(`import ${join(NIXOS_DIR, "example-settings.nix")} // {
      database.url = "sqlite://${dir}/server.db?mode=rwc";
      storage = { type = "local"; path = "${dir}/storage"; };
    }`),
  );
  const configFile = join(dir, "server.toml");
  await writeFile(configFile, renderTomlLikeNixpkgs(settings));

  shim = await render("atticadm-shim.sh", { atticadm: ATTICADM, configFile }, join(dir, "atticadm shim"));

  // A test double for systemd-run, not systemd: it does only what the wrapper relies on (load
  // EnvironmentFile= into an otherwise clean environment, apply --setenv, change to
  // --working-directory, run the command) and logs its arguments for the assertions below.
  systemdRunLog = join(dir, "systemd-run.log");
  fakeSystemdRun = join(dir, "fake systemd-run");
  await writeFile(
    fakeSystemdRun,
    `#!/usr/bin/env bash
set -euo pipefail
printf '%s\\n' "$@" > "$FAKE_SYSTEMD_RUN_LOG"
envfile=/dev/null; wd=/; setenv=()
while [ $# -gt 0 ]; do
  case "$1" in
    --property=EnvironmentFile=*) envfile="\${1#--property=EnvironmentFile=}" ;;
    --setenv=*) setenv+=("\${1#--setenv=}") ;;
    --working-directory) shift; wd="$1" ;;
    --) shift; break ;;
  esac
  shift
done
cd "$wd"
exec env -i PATH="$PATH" HOME="$HOME" bash -c 'set -a; . "$0"; set +a; exec env "$@"' "$envfile" "\${setenv[@]}" "$@"
`,
  );
  await chmod(fakeSystemdRun, 0o755);
  wrapper = await render(
    "atticadm-wrapper.sh",
    { systemdRun: fakeSystemdRun, environmentFile: credentialsFile, user: "atticd", group: "atticd", shim },
    join(dir, "atticd-atticadm"),
  );
});

afterAll(async () => {
  await box?.cleanup();
  // `dir` is "<temp>/state dir".
  if (dir) await rm(join(dir, ".."), { recursive: true, force: true });
});

describe("the inner script (what runs inside the transient unit)", () => {
  it("runs atticadm with the checked config and the credentials file's variables", async () => {
    const fromFile = { ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: secret.toString("base64") };
    const r = await run("bash", [shim, ...MAKE_TOKEN], { env: unitEnvironment({ ...fromFile, ATTICADM_PWD: dir }) });
    expect(r.code, r.stderr).toBe(0);
    expectAliceToken(r.stdout);
  });

  it("warns, and still works, when the caller's directory is gone", async () => {
    const r = await run("bash", [shim, ...MAKE_TOKEN], {
      env: unitEnvironment({ ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: secret.toString("base64"), ATTICADM_PWD: join(dir, "gone") }),
    });
    expect(r.stderr).toContain(`Warning: Failed to change directory to ${join(dir, "gone")}`);
    expect(r.code, r.stderr).toBe(0);
    expectAliceToken(r.stdout);
  });

  it("fails without the credentials, naming the variable", async () => {
    const r = await run("bash", [shim, ...MAKE_TOKEN], { env: unitEnvironment() });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64");
  });

  it("signs with the file's secret, not another one", async () => {
    const other = randomBytes(64).toString("base64");
    const r = await run("bash", [shim, ...MAKE_TOKEN], { env: unitEnvironment({ ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: other }) });
    expect(r.code, r.stderr).toBe(0);
    expect(() => verifyHs256(r.stdout, secret)).toThrow();
  });
});

describe("atticd-atticadm (the wrapper) through a systemd-run test double", () => {
  it("passes the service's user, group and credentials file and the caller's directory", async () => {
    const cwd = join(dir, "caller dir");
    await mkdir(cwd, { recursive: true });
    const r = await run("bash", [wrapper, ...MAKE_TOKEN], {
      env: { PATH: process.env.PATH, HOME: box.env.HOME, FAKE_SYSTEMD_RUN_LOG: systemdRunLog },
      cwd,
    });
    expect(r.code, r.stderr).toBe(0);
    expectAliceToken(r.stdout);

    const args = (await readFile(systemdRunLog, "utf8")).split("\n").slice(0, -1);
    const separator = args.indexOf("--");
    expect(args.slice(separator + 1)).toEqual([shim, ...MAKE_TOKEN]);
    expect(args.slice(0, separator)).toEqual(
      expect.arrayContaining([
        "--wait",
        "--pipe",
        "--collect",
        "--service-type=exec",
        `--property=EnvironmentFile=${credentialsFile}`,
        "--property=DynamicUser=yes",
        "--property=User=atticd",
        "--property=Group=atticd",
        `--setenv=ATTICADM_PWD=${cwd}`,
      ]),
    );
    expect(args[args.indexOf("--working-directory") + 1]).toBe("/");
  });
});
