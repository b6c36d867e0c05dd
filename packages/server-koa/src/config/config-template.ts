/**
 * The first-run `server.toml`: the keys and values of Attic's config-template.toml (spec §8),
 * with our own comments. `%...%` placeholders are replaced with TOML strings.
 */
export const SERVER_CONFIG_TEMPLATE = `# attic-ts server configuration (Attic's server.toml format).

# Socket address to listen on.
listen = "[::]:8080"

# Host headers that are accepted. Set this in production; empty means any Host.
allowed-hosts = []

# The API endpoint advertised to clients; must end with "/". Without it the endpoint is
# derived from the request's Host header, which is unsafe in production.
#api-endpoint = "https://your.domain.tld/"

# Keep the rows of destroyed caches (their names stay taken) instead of deleting them.
#soft-delete-caches = false

# Make uploaders send the whole NAR even when the server already has it.
#require-proof-of-possession = true

# JSON Web Token authentication.
[jwt]
# Tokens must carry this issuer ("iss"), and minted tokens get it.
#token-bound-issuer = "some-issuer"

# Tokens must carry one of these audiences ("aud"), and minted tokens get them.
#token-bound-audiences = ["some-audience1", "some-audience2"]

# The signing key: exactly one of the three. Changing it invalidates every token.
[jwt.signing]
# RS256 with a public key only (verifies tokens, cannot mint them).
#token-rs256-pubkey-base64 = ""

# RS256 with a private key (base64 of a PKCS#1 PEM).
token-rs256-secret-base64 = %token_rs256_secret_base64%

# HS256 with a shared secret.
#token-hs256-secret-base64 = ""

# The database.
[database]
# A sqlite:// or postgres:// URL. PostgreSQL is recommended for production.
url = %database_url%

# Send a query every minute to keep the connection alive.
#heartbeat = false

# Where chunks are stored.
[storage]
# "local" or "s3".
type = "local"

# Local storage: the directory holding the chunk files.
path = %storage_path%

# S3 storage (set type = "s3"):
#region = "us-east-1"
#bucket = "some-bucket"
#endpoint = "https://s3.example.com"
#[storage.credentials]
#  access_key_id = ""
#  secret_access_key = ""

# Content-defined chunking. Changing these values moves the cut points, so new uploads
# deduplicate poorly against existing chunks for a while.
[chunking]
# NARs of at least this many bytes are chunked; 0 disables chunking, 1 chunks every NAR.
nar-size-threshold = 65536 # 64 KiB

# Preferred minimum chunk size, in bytes.
min-size = 16384 # 16 KiB

# Preferred average chunk size, in bytes.
avg-size = 65536 # 64 KiB

# Preferred maximum chunk size, in bytes.
max-size = 262144 # 256 KiB

# Chunk compression.
[compression]
# "none", "brotli", "zstd" or "xz".
type = "zstd"

# Compression level (defaults: brotli 5, zstd 8, xz 2).
#level = 8

# Garbage collection.
[garbage-collection]
# How often garbage collection runs; "0s" disables the periodic run.
interval = "12 hours"

# How long objects are kept by default; 0 (the default) keeps them until a cache sets a period.
#default-retention-period = "6 months"
`;

/** Fills the template; each value is written as a TOML basic string. */
export function renderServerConfig(values: { databaseUrl: string; storagePath: string; rs256SecretBase64: string }): string {
  // JSON string escapes (\\ \" \n \uXXXX ...) are all valid TOML basic-string escapes.
  const toml = (s: string) => JSON.stringify(s);
  // Replacer functions, so a "$" in a path is not read as a replacement pattern.
  return SERVER_CONFIG_TEMPLATE.replace("%database_url%", () => toml(values.databaseUrl))
    .replace("%storage_path%", () => toml(values.storagePath))
    .replace("%token_rs256_secret_base64%", () => toml(values.rs256SecretBase64));
}
