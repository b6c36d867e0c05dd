import type { CachePermission } from "./permission.ts";
import type { Principal } from "./principal.ts";

/** What a new token grants. */
export interface TokenSpec {
  sub: string;
  /** Validity in seconds from now (`exp = now + validity`, `nbf = now`). */
  validitySeconds: number;
  /** Grants in the order they should appear in the claim. */
  grants: ReadonlyArray<readonly [string, Partial<CachePermission>]>;
}

/**
 * Verifies (and, with a signing key, mints) Attic JWTs. An invalid, expired or foreign token is
 * not an error: `verify` answers null and the request proceeds anonymously, as in Attic.
 */
export interface TokenAuthority {
  /** False for a verify-only RS256 public key. */
  readonly canSign: boolean;
  verify(jwt: string): Promise<Principal | null>;
  /** Throws when `canSign` is false. */
  mint(spec: TokenSpec): Promise<string>;
  /** The unsigned claims `mint` would sign (for `atticadm make-token --dump-claims`). */
  claimsFor(spec: TokenSpec): Record<string, unknown>;
}
