import type { Principal } from "../auth/principal.ts";
import type { Database } from "../database/database.ts";
import { inject, injectable } from "../di/index.ts";
import { DATABASE } from "../di/tokens.ts";
import { RequestError } from "../errors.ts";
import { isValidStorePathHash } from "../nix/store-path.ts";
import { CacheAccess, requirePermission } from "./cache-access.ts";

/** `POST /_api/v1/get-missing-paths`: which of these store path hashes the cache lacks. */
@injectable()
export class MissingPathsService {
  constructor(
    @inject(DATABASE) private readonly db: Database,
    @inject(CacheAccess) private readonly access: CacheAccess,
  ) {}

  /** The requested hashes (duplicates collapsed) that the cache does not hold, in request order. */
  async getMissingPaths(principal: Principal, cacheName: string, storePathHashes: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(storePathHashes)];
    const invalid = wanted.find((h) => !isValidStorePathHash(h));
    if (invalid !== undefined) throw new RequestError(`Invalid store path hash "${invalid.slice(0, 64)}"`);
    return this.access.withCache(principal, cacheName, async (_cache, permission) => {
      // Push, not pull: the answer reveals what the cache contains (Attic's rule).
      requirePermission(permission, "push");
      const present = new Set(await this.db.objects.findPresentPaths(cacheName, wanted));
      return wanted.filter((h) => !present.has(h));
    });
  }
}
