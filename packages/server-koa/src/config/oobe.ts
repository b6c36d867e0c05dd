import { generateKeyPair as generateKeyPairCb, createPrivateKey } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { systemClock, type CachePermission, type Clock } from "@attic-ts/core";
import { JwtTokenAuthority } from "@attic-ts/token";
import { renderServerConfig } from "./config-template.ts";
import { atticDataDir, defaultServerConfigPath, type Env } from "./xdg-paths.ts";

const generateKeyPair = promisify(generateKeyPairCb);

/** Attic's first-run key: 4096-bit RSA. */
const RSA_BITS = 4096;
/** The root token's lifetime in calendar months (Attic: 24). */
const ROOT_TOKEN_MONTHS = 24;

export interface OobeOptions {
  /** Supplies `XDG_CONFIG_HOME`, `XDG_DATA_HOME` and `HOME`. */
  env: Env;
  /** Receives the welcome text (atticd passes stderr, like Attic). */
  write: (text: string) => void;
  clock?: Clock;
}

export interface OobeResult {
  /** The `server.toml` written. */
  configPath: string;
  /** The directory holding `server.db` and `storage/`. */
  dataDir: string;
  /** A token for `sub = "root"` with every permission on `*`. */
  rootToken: string;
}

/** A sqlx SQLite URL for a path; `%` and `?` are escaped because the path is percent-decoded. */
function sqliteUrl(path: string): string {
  return `sqlite://${path.replace(/%/g, "%25").replace(/\?/g, "%3F")}?mode=rwc`;
}

function allPermissions(): CachePermission {
  return {
    pull: true,
    push: true,
    delete: true,
    createCache: true,
    configureCache: true,
    configureCacheRetention: true,
    destroyCache: true,
  };
}

function welcome(configPath: string, rootToken: string): string {
  return [
    "",
    "-----------------",
    "Welcome to Attic!",
    "",
    "A simple setup using SQLite and local storage has been configured for you in:",
    "",
    `    ${configPath}`,
    "",
    "Run the following command to log into this server:",
    "",
    `    attic login local http://localhost:8080 ${rootToken}`,
    "",
    "Documentations and guides:",
    "",
    "    https://docs.attic.rs",
    "",
    "Enjoy!",
    "-----------------",
    "",
    "",
  ].join("\n");
}

/**
 * Attic's out-of-box experience, for `atticd` in monolithic mode with no config anywhere:
 * creates `$XDG_DATA_HOME/attic/{server.db,storage/}`, generates an RS256 key, writes
 * `$XDG_CONFIG_HOME/attic/server.toml` (mode 0600) from the template and prints a root token
 * valid for two years. Generating the key takes about a second.
 *
 * @throws when the config file appears meanwhile (it is never overwritten).
 */
export async function runOobe(options: OobeOptions): Promise<OobeResult> {
  const clock = options.clock ?? systemClock;
  const configPath = defaultServerConfigPath(options.env);
  const dataDir = atticDataDir(options.env);
  const databasePath = join(dataDir, "server.db");
  const storagePath = join(dataDir, "storage");

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Like Attic, create the database file empty; flag "a" leaves an existing one intact.
  await writeFile(databasePath, "", { flag: "a", mode: 0o600 });
  await mkdir(storagePath, { recursive: true });

  const { privateKey } = await generateKeyPair("rsa", {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  const rs256SecretBase64 = Buffer.from(privateKey).toString("base64");

  const config = renderServerConfig({ databaseUrl: sqliteUrl(databasePath), storagePath, rs256SecretBase64 });
  await mkdir(dirname(configPath), { recursive: true, mode: 0o700 });
  // "wx": never overwrite a config another process wrote since we looked.
  await writeFile(configPath, config, { flag: "wx", mode: 0o600 });

  const now = clock.now();
  const expiry = new Date(now.getTime());
  expiry.setUTCMonth(expiry.getUTCMonth() + ROOT_TOKEN_MONTHS);
  const authority = new JwtTokenAuthority({ signing: { kind: "rs256", privateKey: createPrivateKey(privateKey) }, clock });
  const rootToken = await authority.mint({
    sub: "root",
    validitySeconds: Math.floor((expiry.getTime() - now.getTime()) / 1000),
    grants: [["*", allPermissions()]],
  });

  options.write(welcome(configPath, rootToken));
  return { configPath, dataDir, rootToken };
}
