import { cachePatternMatches } from "./cache-name.ts";
import { emptyPermission, type CachePermission } from "./permission.ts";
import type { Principal } from "./principal.ts";

/**
 * The permission a principal holds on one cache, as Attic's `get_permission_for_cache`:
 * 1. a grant whose key equals the cache name exactly wins, wherever it sits in the claim;
 * 2. otherwise the FIRST grant, in claim order, whose pattern matches;
 * 3. otherwise nothing (all bits false).
 * Grants from several matching patterns are never merged. The result is a fresh object the
 * caller may modify.
 */
export function permissionFor(principal: Principal, cacheName: string): CachePermission {
  const exact = principal.grants.find(([key]) => key === cacheName);
  if (exact) return { ...exact[1] };
  const first = principal.grants.find(([pattern]) => cachePatternMatches(pattern, cacheName));
  return first ? { ...first[1] } : emptyPermission();
}

/**
 * Attic's `add_public_permissions`: a public cache grants `pull` to everyone, anonymous or not.
 * Returns a new object; `permission` is left untouched.
 */
export function withPublicGrant(permission: CachePermission, isPublic: boolean): CachePermission {
  return isPublic ? { ...permission, pull: true } : { ...permission };
}
