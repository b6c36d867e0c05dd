import type { Env } from "./xdg-paths.ts";

/** Attic's fallback for `database.url`. */
export const DATABASE_URL_VARIABLE = "ATTIC_SERVER_DATABASE_URL";

/**
 * The signing-key variables in Attic's priority order (server/src/config.rs), each with the
 * `[jwt.signing]` key it stands for. Only consulted when `[jwt.signing]` is absent.
 */
export const JWT_SIGNING_VARIABLES = [
  ["ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64", "token-rs256-pubkey-base64"],
  ["ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64", "token-rs256-secret-base64"],
  ["ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64", "token-hs256-secret-base64"],
] as const;

/** The help Attic gives when no signing key is configured anywhere. */
export const MISSING_JWT_SIGNING_HELP = [
  "no JWT signing key is configured.",
  "Configure exactly one key in the [jwt.signing] table of the config file:",
  "  token-rs256-secret-base64 = \"...\"   # RS256: base64 of an RSA private key in PEM (signs and verifies)",
  "  token-rs256-pubkey-base64 = \"...\"   # RS256: base64 of an RSA public key in PEM (verifies only)",
  "  token-hs256-secret-base64 = \"...\"   # HS256: base64 of a shared secret",
  "or set one of these environment variables (the first non-empty one wins):",
  ...JWT_SIGNING_VARIABLES.map(([variable]) => `  ${variable}`),
  "A suitable RSA key: openssl genrsa -traditional 4096 | base64 -w0",
].join("\n");

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Applies Attic's environment fallbacks to a parsed config, before validation: the database
 * URL when `database.url` is absent, and the first non-empty signing variable when
 * `[jwt.signing]` is absent. Empty variables count as unset. Returns a new object; tables
 * that are not tables are left for validation to report, and so is a missing signing key
 * (see {@link hasJwtSigning}).
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: Env): Record<string, unknown> {
  const config: Record<string, unknown> = { ...raw };

  const databaseUrl = env[DATABASE_URL_VARIABLE];
  if (isTable(config.database) && config.database.url === undefined && databaseUrl) {
    config.database = { ...config.database, url: databaseUrl };
  }

  const jwt = config.jwt === undefined ? {} : config.jwt;
  if (!isTable(jwt)) return config;
  if (jwt.signing !== undefined) return config;
  const found = JWT_SIGNING_VARIABLES.find(([variable]) => env[variable]);
  if (!found) return config;
  const [variable, key] = found;
  config.jwt = { ...jwt, signing: { [key]: env[variable] } };
  return config;
}

/** Whether a parsed config has a `[jwt.signing]` table (from the file or the environment). */
export function hasJwtSigning(raw: Record<string, unknown>): boolean {
  return isTable(raw.jwt) && raw.jwt.signing !== undefined;
}
