import type { CachePermission } from "./permission.ts";

/**
 * Who is asking: the verified token's subject and its cache grants in claim order (order
 * matters: the first matching pattern wins). Anonymous callers have `sub: null` and no grants.
 */
export interface Principal {
  sub: string | null;
  /** `[cache name or pattern, permission]` in the order the token lists them. */
  grants: ReadonlyArray<readonly [string, CachePermission]>;
}

export const ANONYMOUS: Principal = Object.freeze({ sub: null, grants: Object.freeze([]) });
