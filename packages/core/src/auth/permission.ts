/** The seven permission bits of an Attic token, per cache name or pattern. */
export interface CachePermission {
  /** `r`: substitute from the cache. */
  pull: boolean;
  /** `w`: upload paths (and ask which are missing). */
  push: boolean;
  /** `d`: delete paths. */
  delete: boolean;
  /** `cc`: create the cache. */
  createCache: boolean;
  /** `cr`: change the cache's settings. */
  configureCache: boolean;
  /** `cq`: change the cache's retention period. */
  configureCacheRetention: boolean;
  /** `cd`: destroy the cache. */
  destroyCache: boolean;
}

/** Claim bit names in Attic's serialisation order. */
export const PERMISSION_BITS = [
  ["r", "pull"],
  ["w", "push"],
  ["d", "delete"],
  ["cc", "createCache"],
  ["cr", "configureCache"],
  ["cq", "configureCacheRetention"],
  ["cd", "destroyCache"],
] as const satisfies ReadonlyArray<readonly [string, keyof CachePermission]>;

export function emptyPermission(): CachePermission {
  return {
    pull: false,
    push: false,
    delete: false,
    createCache: false,
    configureCache: false,
    configureCacheRetention: false,
    destroyCache: false,
  };
}

/** "Discovery": any bit set. Without it, errors about the cache collapse to 401. */
export function canDiscover(p: CachePermission): boolean {
  return Object.values(p).some(Boolean);
}
