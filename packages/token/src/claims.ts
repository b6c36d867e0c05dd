import {
  PERMISSION_BITS,
  NixFormatError,
  emptyPermission,
  isValidCachePattern,
  type CachePermission,
  type Principal,
} from "@attic-ts/core";

/** Attic's custom claim namespace (`CLAIM_NAMESPACE` in token/src/lib.rs). */
export const CLAIM_NAMESPACE = "https://jwt.attic.rs/v1";

/** One cache entry as it appears in the claim: bit name (`r`, `w`, ...) → 1. */
export type SerializedPermission = Partial<Record<(typeof PERMISSION_BITS)[number][0], 1>>;

/** The value stored under {@link CLAIM_NAMESPACE}. */
export interface AtticClaim {
  caches: Record<string, SerializedPermission>;
}

const PERMISSION_NAMES = new Set<string>(PERMISSION_BITS.map(([, name]) => name));

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * One permission object. Like serde_with's `BoolFromInt` each present bit must be the integer
 * 0 or 1 (`true`, `2`, `null`, `"1"` make the whole token invalid); absent bits are false and
 * unknown keys are ignored, as serde does without `deny_unknown_fields`.
 */
function parsePermission(value: unknown): CachePermission | null {
  if (!isPlainObject(value)) return null;
  const permission = emptyPermission();
  for (const [bit, name] of PERMISSION_BITS) {
    if (!Object.hasOwn(value, bit)) continue;
    const v = value[bit];
    if (v !== 0 && v !== 1) return null;
    permission[name] = v === 1;
  }
  return permission;
}

/**
 * Reads the principal from a verified JWT payload: `sub` and the grants under
 * {@link CLAIM_NAMESPACE}. Returns null when the namespace or its `caches` map is missing or
 * malformed, when any key is not a valid cache name pattern, or when `sub` is not a string:
 * Attic then fails to decode the token and treats the request as anonymous.
 *
 * Grant order is the key order of the parsed object. `JSON.parse` moves integer-like keys
 * (such as `"123"`) to the front, unlike Attic's IndexMap; this cannot change any lookup,
 * because such a key contains no `*`, so it matches only the identical cache name, and exact
 * keys are looked up before any pattern. The order of wildcard patterns is preserved.
 */
export function parseAtticClaims(payload: unknown): Principal | null {
  if (!isPlainObject(payload)) return null;
  const sub = payload.sub;
  if (sub !== undefined && typeof sub !== "string") return null;
  const namespace = payload[CLAIM_NAMESPACE];
  if (!isPlainObject(namespace)) return null;
  const caches = namespace.caches;
  if (!isPlainObject(caches)) return null;

  const grants: Array<readonly [string, CachePermission]> = [];
  for (const [pattern, value] of Object.entries(caches)) {
    if (!isValidCachePattern(pattern)) return null;
    const permission = parsePermission(value);
    if (!permission) return null;
    grants.push([pattern, permission] as const);
  }
  return { sub: sub ?? null, grants };
}

/**
 * Builds the claim value for a set of grants, as Attic's `make-token` does: each pattern
 * appears once, in first-seen order (a repeated pattern ORs its bits into the first entry),
 * and only true bits are written, as `1`, in the order `r w d cc cr cq cd`.
 *
 * Throws `NixFormatError("InvalidCacheName")` for an invalid pattern and `TypeError` for a
 * permission key that is not a {@link CachePermission} field (a misspelt key would otherwise
 * silently grant nothing).
 */
export function serializeGrants(
  grants: Iterable<readonly [string, Partial<CachePermission>]>,
): AtticClaim {
  const merged = new Map<string, CachePermission>();
  for (const [pattern, partial] of grants) {
    if (!isValidCachePattern(pattern)) {
      throw new NixFormatError("InvalidCacheName", `Invalid cache name "${pattern}"`);
    }
    for (const key of Object.keys(partial)) {
      if (!PERMISSION_NAMES.has(key)) {
        throw new TypeError(`unknown permission "${key}" for "${pattern}"; expected one of ${[...PERMISSION_NAMES].join(", ")}`);
      }
    }
    const entry = merged.get(pattern) ?? emptyPermission();
    for (const [, name] of PERMISSION_BITS) entry[name] ||= partial[name] === true;
    merged.set(pattern, entry);
  }

  const caches: Record<string, SerializedPermission> = {};
  for (const [pattern, permission] of merged) {
    const bits: SerializedPermission = {};
    for (const [bit, name] of PERMISSION_BITS) if (permission[name]) bits[bit] = 1;
    caches[pattern] = bits;
  }
  return { caches };
}
