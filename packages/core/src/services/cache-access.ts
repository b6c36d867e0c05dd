import { canDiscover, emptyPermission, type CachePermission } from "../auth/permission.ts";
import type { Principal } from "../auth/principal.ts";
import { permissionFor, withPublicGrant } from "../auth/permission-lookup.ts";
import { assertCacheName } from "../auth/cache-name.ts";
import type { Database } from "../database/database.ts";
import type { CacheRow } from "../database/model.ts";
import { AccessError, isAtticError, NoSuchCacheError } from "../errors.ts";
import { DATABASE } from "../di/tokens.ts";
import { inject, injectable } from "../di/index.ts";

const NO_PERMISSION = "User does not have permission to complete this action.";

/** Throws Attic's AccessError unless `bit` is granted. */
export function requirePermission(permission: CachePermission, bit: keyof CachePermission): void {
  if (!permission[bit]) throw new AccessError(NO_PERMISSION);
}

/** The permission a principal holds on a cache name before any public grant. */
export function permissionOf(principal: Principal, cacheName: string): CachePermission {
  return principal.sub === null && principal.grants.length === 0 ? emptyPermission() : permissionFor(principal, cacheName);
}

/**
 * Attic's `auth_cache`: resolves a live cache and the caller's permission on it (with the pull
 * grant of public caches), and marks every error escaping `fn` with whether the caller may
 * know the cache exists, so a host can collapse errors to 401 for strangers.
 */
@injectable()
export class CacheAccess {
  constructor(@inject(DATABASE) private readonly db: Database) {}

  async withCache<T>(
    principal: Principal,
    cacheName: string,
    fn: (cache: CacheRow, permission: CachePermission) => Promise<T>,
  ): Promise<T> {
    return this.withLookup(
      principal,
      cacheName,
      async () => {
        const cache = await this.db.caches.findCache(cacheName);
        return cache ? { cache } : null;
      },
      (found, permission) => fn(found.cache, permission),
    );
  }

  /**
   * `withCache` with the caller's own query: `lookup` returns the live cache together with
   * whatever else the request needs from the same statement (null when there is no live
   * cache), so a request costs one round trip. The access rules are `withCache`'s: `fn` gets
   * the result only with the permission computed from the cache row, and must check that
   * permission before it reveals anything else the lookup found.
   */
  async withLookup<L extends { cache: CacheRow }, T>(
    principal: Principal,
    cacheName: string,
    lookup: () => Promise<L | null>,
    fn: (found: L, permission: CachePermission) => Promise<T>,
  ): Promise<T> {
    assertCacheName(cacheName);
    const own = permissionOf(principal, cacheName);
    const found = await lookup();
    if (!found) throw new NoSuchCacheError({ discoveryPermission: canDiscover(own) });
    const permission = withPublicGrant(own, found.cache.isPublic);
    try {
      return await fn(found, permission);
    } catch (err) {
      if (isAtticError(err)) err.discoveryPermission = canDiscover(permission);
      throw err;
    }
  }
}
