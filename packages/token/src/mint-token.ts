import { ConfigError, parseDurationSeconds, type CachePermission, type Clock } from "@attic-ts/core";
import { JwtTokenAuthority } from "./jwt-token-authority.ts";
import { hs256SecretFromBase64, rs256PrivateKeyFromBase64, type SigningMaterial } from "./signing-keys.ts";

/** Grants as a `{ pattern: { pull: true, ... } }` object or `[pattern, permission]` pairs (claim order). */
export type GrantsInput =
  | Readonly<Record<string, Partial<CachePermission>>>
  | ReadonlyArray<readonly [string, Partial<CachePermission>]>;

export interface MintTokenOptions {
  /** HS256: the same value as `token-hs256-secret-base64`. Give this or `rs256PrivateKeyPemBase64`. */
  secretBase64?: string;
  /** RS256: the same value as `token-rs256-secret-base64` (base64 of a PEM RSA private key). */
  rs256PrivateKeyPemBase64?: string;
  /** The token's subject (`sub`). */
  sub: string;
  /** Lifetime: seconds, or a humantime string such as "1 month" or "2y". */
  validity: number | string;
  /** What the token may do, per cache name or pattern; the first matching pattern wins. */
  grants: GrantsInput;
  /** Must match the server's `[jwt] token-bound-issuer` if it has one. */
  issuer?: string;
  /** Must intersect the server's `[jwt] token-bound-audiences` if it has them. */
  audiences?: readonly string[];
  /** Source of "now" (`nbf`, and `exp` = now + validity); defaults to the system clock. */
  clock?: Clock;
}

function validitySeconds(validity: number | string): number {
  if (typeof validity === "number") {
    if (!Number.isFinite(validity) || validity < 0) throw new ConfigError("validity: expected a non-negative number of seconds");
    return validity;
  }
  try {
    return parseDurationSeconds(validity);
  } catch (err) {
    throw new ConfigError(`validity: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/**
 * Mints an Attic token the way `atticadm make-token` does, without a server config: for
 * scripts, CI and tests. The key is given in Attic's config encoding.
 */
export async function mintToken(options: MintTokenOptions): Promise<string> {
  const { secretBase64, rs256PrivateKeyPemBase64 } = options;
  if ((secretBase64 === undefined) === (rs256PrivateKeyPemBase64 === undefined)) {
    throw new ConfigError("mintToken: give exactly one of secretBase64 (HS256) and rs256PrivateKeyPemBase64 (RS256)");
  }
  const signing: SigningMaterial =
    secretBase64 !== undefined
      ? { kind: "hs256", secret: hs256SecretFromBase64(secretBase64, "secretBase64") }
      : { kind: "rs256", privateKey: rs256PrivateKeyFromBase64(rs256PrivateKeyPemBase64!, "rs256PrivateKeyPemBase64") };
  const authority = new JwtTokenAuthority({
    signing,
    boundIssuer: options.issuer,
    boundAudiences: options.audiences,
    clock: options.clock,
  });
  const grants = Array.isArray(options.grants)
    ? (options.grants as ReadonlyArray<readonly [string, Partial<CachePermission>]>)
    : Object.entries(options.grants);
  return authority.mint({ sub: options.sub, validitySeconds: validitySeconds(options.validity), grants });
}
