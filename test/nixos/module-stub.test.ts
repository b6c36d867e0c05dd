import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { requireNix } from "../helpers/nix.ts";
import { NIXOS_DIR, nixEval } from "./nix-eval.ts";

/**
 * nixos/atticd.nix evaluated by the real Nix with a stub `lib` and `pkgs`
 * (test/nixos/module-stub.nix): its option declarations, and the unit, assertions and wrapper
 * it produces for given option values. The module system itself (merging, types, priorities)
 * needs nixpkgs and is covered only by the VM test (nixos/tests/basic.nix).
 */

const STUB = join(NIXOS_DIR, "../test/nixos/module-stub.nix");
const PACKAGE = "/nix/store/00000000000000000000000000000000-attic-ts-0.1.0";

interface Evaluated {
  imports: unknown[];
  disabledModules: string[];
  optionNames: string[];
  modeValues: string[];
  defaults: Record<string, unknown>;
  credentialsFileType: string;
  chunkingOptions: Record<string, string>;
  enabledWhen: boolean;
  assertions: boolean[];
  settingsDefaults: Record<string, unknown>;
  unit: {
    after: string[];
    requires: string[];
    wants: string[];
    wantedBy: string[];
    serviceConfig: Record<string, unknown>;
  };
  wrapperText: string;
  checkedConfigPath: string | null;
}

interface Options {
  credentialsFile?: string | null;
  mode?: string;
  checkConfig?: boolean;
  databaseUrl?: string;
  storage?: string;
  postgresqlEnable?: boolean;
  /** Give credentialsFile as a Nix path literal instead of a string. */
  literal?: boolean;
}

/**
 * Evaluates the module for these option values (every other option at its default); with
 * `select`, only that attribute of the result (a path literal must not reach the JSON output,
 * which would copy it into the store).
 */
function evaluate(o: Options = {}, select?: keyof Evaluated): Promise<Evaluated> {
  const file = o.credentialsFile === undefined ? "/etc/atticd.env" : o.credentialsFile;
  const credentials = file === null ? "null" : o.literal ? file : JSON.stringify(file);
  const wrap = (expr: string) => (select ? `{ ${select} = (${expr}).${select}; }` : expr);
  return nixEval<Evaluated>(wrap(`import ${STUB} {
    postgresqlEnable = ${o.postgresqlEnable ?? false};
    cfg = {
      enable = true;
      package = { outPath = "${PACKAGE}"; };
      credentialsFile = ${credentials};
      user = "atticd";
      group = "atticd";
      mode = "${o.mode ?? "monolithic"}";
      checkConfig = ${o.checkConfig ?? true};
      configFile = { outPath = "/nix/store/11111111111111111111111111111111-server.toml"; };
      settings = {
        database.url = "${o.databaseUrl ?? "sqlite:///var/lib/atticd/server.db?mode=rwc"}";
        storage = ${o.storage ?? `{ type = "local"; path = "/var/lib/atticd/storage"; }`};
      };
    };
  }`));
}

/** The serviceConfig keys of Attic's unit (spec section 9). */
const ATTIC_SERVICE_CONFIG = [
  "ExecStart", "EnvironmentFile", "StateDirectory", "DynamicUser", "User", "Group", "Restart", "RestartSec",
  "CapabilityBoundingSet", "DeviceAllow", "DevicePolicy", "LockPersonality", "MemoryDenyWriteExecute",
  "NoNewPrivileges", "PrivateDevices", "PrivateTmp", "PrivateUsers", "ProcSubset", "ProtectClock",
  "ProtectControlGroups", "ProtectHome", "ProtectHostname", "ProtectKernelLogs", "ProtectKernelModules",
  "ProtectKernelTunables", "ProtectProc", "ProtectSystem", "ReadWritePaths", "RemoveIPC",
  "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
  "SystemCallArchitectures", "SystemCallFilter", "UMask",
];

beforeAll(async () => {
  await requireNix();
});

describe("the module's options", () => {
  it("are Attic's, with credentialsFile as the main name and environmentFile as an alias", async () => {
    const m = await evaluate();
    expect(m.optionNames).toEqual(["checkConfig", "configFile", "credentialsFile", "enable", "group", "mode", "package", "settings", "user"]);
    expect(m.imports).toEqual([
      { _type: "aliasOptionModule", from: ["services", "atticd", "environmentFile"], to: ["services", "atticd", "credentialsFile"] },
    ]);
    expect(m.disabledModules).toEqual(["services/networking/atticd.nix"]);
    expect(m.modeValues).toEqual(["monolithic", "api-server", "garbage-collector"]);
    expect(m.credentialsFileType).toBe("nullOr path");
    expect(m.defaults).toEqual({ default: "atticd", group: "atticd", mode: "monolithic", credentialsFile: null, checkConfig: true, listen: "[::]:8080" });
    expect(m.chunkingOptions).toEqual({
      "nar-size-threshold": "ints.unsigned",
      "min-size": "ints.unsigned",
      "avg-size": "ints.unsigned",
      "max-size": "ints.unsigned",
    });
  });

  it("default the database to SQLite and the storage to local files in /var/lib/atticd, with mkDefault", async () => {
    const m = await evaluate();
    expect(m.settingsDefaults).toEqual({
      database: { url: { _type: "override", priority: 1000, content: "sqlite:///var/lib/atticd/server.db?mode=rwc" } },
      storage: { _type: "override", priority: 1000, content: { type: "local", path: "/var/lib/atticd/storage" } },
    });
  });

  it("assert a credentials file outside the store", async () => {
    expect((await evaluate()).assertions).toEqual([true, true]);
    expect((await evaluate({ credentialsFile: null })).assertions[0]).toBe(false);
    expect((await evaluate({ credentialsFile: "/nix/store/22222222222222222222222222222222-atticd.env" })).assertions).toEqual([true, false]);
    // A path literal, which NixOS would copy into the store.
    expect((await evaluate({ credentialsFile: "/etc/atticd.env", literal: true }, "assertions")).assertions).toEqual([true, false]);
  });
});

describe("the systemd unit", () => {
  it("has Attic's hardening except MemoryDenyWriteExecute, which V8's JIT cannot live with", async () => {
    const { unit } = await evaluate();
    expect(Object.keys(unit.serviceConfig).sort()).toEqual(ATTIC_SERVICE_CONFIG.filter((k) => k !== "MemoryDenyWriteExecute").sort());
    expect(unit.serviceConfig).toMatchObject({
      DynamicUser: true,
      StateDirectory: "atticd",
      EnvironmentFile: "/etc/atticd.env",
      ProtectSystem: "strict",
      SystemCallFilter: ["@system-service", "~@resources", "~@privileged"],
      UMask: "0077",
      CapabilityBoundingSet: [""],
      Restart: "on-failure",
      RestartSec: 10,
    });
    const module = await readFile(join(NIXOS_DIR, "atticd.nix"), "utf8");
    const mentions = module.split("\n").filter((l) => l.includes("MemoryDenyWriteExecute"));
    expect(mentions.length).toBeGreaterThan(0);
    for (const line of mentions) expect(line.trim().startsWith("#"), line).toBe(true);
    expect(module).toMatch(/# .*V8/);
  });

  it("runs the checked config in the chosen mode (or the unchecked one with checkConfig = false)", async () => {
    const api = await evaluate({ mode: "api-server" });
    expect(api.unit.serviceConfig.ExecStart).toBe(`${PACKAGE}/bin/atticd -f /nix/store/stub-checked-attic-server.toml --mode api-server`);
    const unchecked = await evaluate({ checkConfig: false, mode: "garbage-collector" });
    expect(unchecked.unit.serviceConfig.ExecStart).toBe(
      `${PACKAGE}/bin/atticd -f /nix/store/11111111111111111111111111111111-server.toml --mode garbage-collector`,
    );
    expect(api.unit.wantedBy).toEqual(["multi-user.target"]);
    expect(api.unit.wants).toEqual(["network-online.target"]);
  });

  it("starts after and requires PostgreSQL only when it is enabled here and the URL is local", async () => {
    const local = await evaluate({ postgresqlEnable: true, databaseUrl: "postgresql:///attic?host=/run/postgresql" });
    expect(local.unit.after).toEqual(["network-online.target", "postgresql.service"]);
    expect(local.unit.requires).toEqual(["postgresql.service"]);
    const remote = await evaluate({ postgresqlEnable: true, databaseUrl: "postgresql://db.example.com/attic" });
    expect(remote.unit.after).toEqual(["network-online.target"]);
    expect(remote.unit.requires).toEqual([]);
    const disabled = await evaluate({ postgresqlEnable: false, databaseUrl: "postgresql://localhost/attic" });
    expect(disabled.unit.requires).toEqual([]);
  });

  it("may write local storage outside /var/lib/atticd", async () => {
    expect((await evaluate()).unit.serviceConfig.ReadWritePaths).toEqual([]);
    const srv = await evaluate({ storage: `{ type = "local"; path = "/srv/attic"; }` });
    expect(srv.unit.serviceConfig.ReadWritePaths).toEqual(["/srv/attic"]);
    const s3 = await evaluate({ storage: `{ type = "s3"; region = "r"; bucket = "b"; }` });
    expect(s3.unit.serviceConfig.ReadWritePaths).toEqual([]);
  });
});

describe("atticd-atticadm", () => {
  it("is the wrapper script with systemd-run, the credentials file, the user and the shim filled in", async () => {
    const { wrapperText } = await evaluate({ credentialsFile: "/run/secrets/atticd env" });
    expect(wrapperText).toContain("exec '/stub/systemd/bin/systemd-run' \\");
    expect(wrapperText).toContain("--property=EnvironmentFile='/run/secrets/atticd env' \\");
    expect(wrapperText).toContain("--property=User='atticd' \\");
    expect(wrapperText).toContain("--property=Group='atticd' \\");
    expect(wrapperText).toContain(`'/nix/store/stub-atticadm' "$@"`);
    expect(wrapperText).not.toMatch(/@[A-Za-z]+@/);
  });
});
