import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import {
  HS256_SECRET,
  atticdOnce,
  buildDist,
  rsaKeysBase64,
  sandbox,
  serverToml,
  startAtticd,
  writeConfig,
  type Sandbox,
} from "./cli-harness.ts";

/**
 * Attic's server/src/config-template.toml as atticd's first run writes it (keys, values and
 * comments as in Attic), with the three placeholders filled in.
 */
function atticTemplate(values: { databaseUrl: string; storagePath: string; rs256Secret: string }): string {
  return `# Socket address to listen on
listen = "[::]:8080"

# Allowed \`Host\` headers
#
# This _must_ be configured for production use. If unconfigured or the
# list is empty, all \`Host\` headers are allowed.
allowed-hosts = []

# The canonical API endpoint of this server
#
# This is the endpoint exposed to clients in \`cache-config\` responses.
#
# This _must_ be configured for production use. If not configured, the
# API endpoint is synthesized from the client's \`Host\` header which may
# be insecure.
#
# The API endpoint _must_ end with a slash (e.g., \`https://domain.tld/attic/\`
# not \`https://domain.tld/attic\`).
#api-endpoint = "https://your.domain.tld/"

# Whether to soft-delete caches
#
# If this is enabled, caches are soft-deleted instead of actually
# removed from the database. Note that soft-deleted caches cannot
# have their names reused as long as the original database records
# are there.
#soft-delete-caches = false

# Whether to require fully uploading a NAR if it exists in the global cache.
#
# If set to false, simply knowing the NAR hash is enough for
# an uploader to gain access to an existing NAR in the global
# cache.
#require-proof-of-possession = true

# JSON Web Token authentication
[jwt]
# This section configures JWT signing and verification.

# Tokens must carry this issuer
#token-bound-issuer = "some-issuer"

# Tokens must carry one of these audiences
#token-bound-audiences = ["some-audience1", "some-audience2"]

[jwt.signing]
# You must configure exactly one of the following keys.
#
# RS256 public key (verification only):
#token-rs256-pubkey-base64 = "%token_rs256_pubkey_base64%"
#
# RS256 private key (signing and verification):
token-rs256-secret-base64 = "${values.rs256Secret}"
#
# HS256 shared secret:
#token-hs256-secret-base64 = "%token_hs256_secret_base64%"

# Database connection
[database]
# Connection URL
#
# For production use it's recommended to use PostgreSQL.
url = "${values.databaseUrl}"

# Whether to enable sending on periodic heartbeat queries
#
# If enabled, a heartbeat query will be sent every minute
#heartbeat = false

# File storage configuration
[storage]
# Storage type
#
# Can be "local" or "s3".
type = "local"

# ## Local storage

# The directory to store all files under
path = "${values.storagePath}"

# ## S3 Storage (set type to "s3" and uncomment below)

# The AWS region
#region = "us-east-1"

# The name of the bucket
#bucket = "some-bucket"

# Custom S3 endpoint
#
# Set this if you are using an S3-compatible object storage (e.g., Minio).
#endpoint = "https://xxx.r2.cloudflarestorage.com"

# Credentials
#
# If unset, the credentials are read from the \`AWS_ACCESS_KEY_ID\` and
# \`AWS_SECRET_ACCESS_KEY\` environment variables.
#[storage.credentials]
#  access_key_id = ""
#  secret_access_key = ""

# Data chunking
#
# Warning: If you change any of the values here, it will be
# difficult to reuse existing chunks for newly-uploaded NARs
# since the cutpoints will be different. As a result, the
# deduplication ratio will suffer for a while after the change.
[chunking]
# The minimum NAR size to trigger chunking
#
# If 0, chunking is disabled entirely for newly-uploaded NARs.
# If 1, all NARs are chunked.
nar-size-threshold = 65536 # chunk files that are 64 KiB or larger

# The preferred minimum size of a chunk, in bytes
min-size = 16384            # 16 KiB

# The preferred average size of a chunk, in bytes
avg-size = 65536            # 64 KiB

# The preferred maximum size of a chunk, in bytes
max-size = 262144           # 256 KiB

# Compression
[compression]
# Compression type
#
# Can be "none", "brotli", "zstd", or "xz"
type = "zstd"

# Compression level
#level = 8

# Garbage collection
[garbage-collection]
# The frequency to run garbage collection at
#
# By default it's 12 hours. You can use natural language
# to specify the interval, like "1 day".
#
# If zero, automatic garbage collection is disabled, but
# it can still be run manually with \`atticd --mode garbage-collector-once\`.
interval = "12 hours"

# Default retention period
#
# Zero (default) means time-based garbage-collection is
# disabled by default. You can enable it on a per-cache basis.
#default-retention-period = "6 months"
`;
}

const NO_STACK = /\n\s+at .+:\d+:\d+/;

describe("atticd --mode check-config (real process)", { timeout: 180_000 }, () => {
  let box: Sandbox;
  const check = (configPath: string, env: NodeJS.ProcessEnv = box.env) => atticdOnce(["-f", configPath, "--mode", "check-config"], env);

  /** Runs check-config on `text` and expects exit 78 with the file and every fragment on stderr. */
  async function expectInvalid(name: string, text: string, fragments: string[]): Promise<string> {
    const path = await writeConfig(box.dir, text, name);
    const result = await check(path);
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toContain(path);
    for (const fragment of fragments) expect(result.stderr).toContain(fragment);
    expect(result.stderr).not.toMatch(NO_STACK);
    return result.stderr;
  }

  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
  });
  afterAll(async () => box?.cleanup());

  it("accepts Attic's config template unchanged, and atticd serves with it", async () => {
    const text = atticTemplate({
      databaseUrl: `sqlite://${join(box.dir, "template.db")}?mode=rwc`,
      storagePath: join(box.dir, "template-storage"),
      rs256Secret: rsaKeysBase64().secret,
    });
    const path = await writeConfig(box.dir, text, "template.toml");
    const result = await check(path);
    expect(result.stderr).toContain("Attic Server 0.1.0 (attic-ts)");
    expect(result.code, result.stderr).toBe(0);

    const server = await startAtticd(["-f", path, "-l", "127.0.0.1:0"], box.env);
    try {
      expect((await fetch(`${server.url}/`)).status).toBe(200);
      expect((await fetch(`${server.url}/_api/v1/cache-config/x`)).status).toBe(401);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });

  it("rejects an unknown top-level key, naming it", async () => {
    await expectInvalid("unknown-key.toml", `frobnicate = true\n${serverToml(box.dir)}`, ['unknown key(s) "frobnicate"']);
  });

  it("rejects a config without [chunking]", async () => {
    await expectInvalid("no-chunking.toml", serverToml(box.dir, { chunking: null }), ["chunking: missing"]);
  });

  it("rejects an unknown storage.type, listing the installed types", async () => {
    const text = serverToml(box.dir).replace('type = "local"', 'type = "ftp"');
    await expectInvalid("storage-type.toml", text, ["storage.type", '"local"', '"ftp"']);
  });

  it("rejects a bad duration, naming the key", async () => {
    const text = `${serverToml(box.dir)}\n[garbage-collection]\ninterval = "twelve hours"\n`;
    await expectInvalid("duration.toml", text, ["garbage-collection.interval", "expected a duration"]);
  });

  it("rejects the deprecated top-level token-hs256-secret-base64", async () => {
    const text = `token-hs256-secret-base64 = "${HS256_SECRET}"\n${serverToml(box.dir)}`;
    await expectInvalid("deprecated.toml", text, ["token-hs256-secret-base64", "[jwt.signing]"]);
  });

  it("rejects bad chunk sizes, an undecodable key and a TOML syntax error with line and column", async () => {
    const sizes = serverToml(box.dir, { chunking: "[chunking]\nnar-size-threshold = 1\nmin-size = 65536\navg-size = 16384\nmax-size = 262144\n" });
    await expectInvalid("sizes.toml", sizes, ["chunking", "min-size <= avg-size <= max-size"]);
    const key = serverToml(box.dir, { signing: 'token-rs256-secret-base64 = "bm90IGEga2V5"' });
    await expectInvalid("bad-key.toml", key, ["jwt.signing.token-rs256-secret-base64"]);
    await expectInvalid("syntax.toml", 'listen = "[::]:8080"\n[database\nurl = "x"\n', ["TOML syntax error at line 2, column"]);
  });

  it("fails with 78 when -f names a missing file", async () => {
    const result = await check(join(box.dir, "does-not-exist.toml"));
    expect(result.code).toBe(78);
    expect(result.stderr).toContain("does-not-exist.toml");
  });

  it("reads the config from ATTIC_SERVER_CONFIG_BASE64 when there is no -f", async () => {
    const good = Buffer.from(serverToml(box.dir)).toString("base64");
    const ok = await atticdOnce(["--mode", "check-config"], { ...box.env, ATTIC_SERVER_CONFIG_BASE64: good });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain("ATTIC_SERVER_CONFIG_BASE64");

    const bad = Buffer.from(`bogus = 1\n${serverToml(box.dir)}`).toString("base64");
    const failed = await atticdOnce(["--mode", "check-config"], { ...box.env, ATTIC_SERVER_CONFIG_BASE64: bad });
    expect(failed.code).toBe(78);
    expect(failed.stderr).toContain("ATTIC_SERVER_CONFIG_BASE64");
    expect(failed.stderr).toContain('"bogus"');

    // -f wins over the variable.
    const path = await writeConfig(box.dir, serverToml(box.dir), "wins.toml");
    const preferred = await atticdOnce(["-f", path, "--mode", "check-config"], { ...box.env, ATTIC_SERVER_CONFIG_BASE64: bad });
    expect(preferred.code, preferred.stderr).toBe(0);
  });

  it("takes database.url from ATTIC_SERVER_DATABASE_URL only when the config has none", async () => {
    const noUrl = serverToml(box.dir).replace(/^url = .*$/m, "");
    const path = await writeConfig(box.dir, noUrl, "no-url.toml");
    const missing = await check(path);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain("database.url");

    const envDb = join(box.dir, "from-env.db");
    const env = { ...box.env, ATTIC_SERVER_DATABASE_URL: `sqlite://${envDb}?mode=rwc` };
    expect((await check(path, env)).code).toBe(0);
    const migrated = await atticdOnce(["-f", path, "--mode", "db-migrations"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const { existsSync } = await import("node:fs");
    expect(existsSync(envDb)).toBe(true);

    // A URL in the file wins: the variable's database is not touched.
    const other = join(box.dir, "ignored.db");
    const withUrl = await writeConfig(box.dir, serverToml(box.dir), "with-url.toml");
    const kept = await atticdOnce(["-f", withUrl, "--mode", "db-migrations"], { ...box.env, ATTIC_SERVER_DATABASE_URL: `sqlite://${other}?mode=rwc` });
    expect(kept.code, kept.stderr).toBe(0);
    expect(existsSync(other)).toBe(false);
  });

  it("passes the NixOS module's build-time check (database URL and HS256 secret from the environment)", async () => {
    const text = serverToml(box.dir, { signing: null }).replace(/^url = .*$/m, "");
    const path = await writeConfig(box.dir, text, "nixos.toml");
    const env = {
      ...box.env,
      ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64: "dGVzdCBzZWNyZXQ=",
      ATTIC_SERVER_DATABASE_URL: "sqlite://:memory:",
    };
    const result = await check(path, env);
    expect(result.code, result.stderr).toBe(0);
  });
});
