import type { z } from "zod";
import { canDiscover } from "../auth/permission.ts";
import type { Principal } from "../auth/principal.ts";
import { assertCacheName } from "../auth/cache-name.ts";
import type { Clock } from "../clock.ts";
import type { EngineConfig } from "../config/engine-config.ts";
import type { Database } from "../database/database.ts";
import type { CachePatch } from "../database/model.ts";
import { inject, injectable } from "../di/index.ts";
import { CLOCK, DATABASE, ENGINE_CONFIG, NARINFO_CACHE } from "../di/tokens.ts";
import { CacheAlreadyExistsError, NoSuchCacheError, RequestError } from "../errors.ts";
import { generateSigningKey, parseSigningKey } from "../nix/signing-key.ts";
import { CacheAccess, permissionOf, requirePermission } from "./cache-access.ts";
import { configureCacheRequestSchema, createCacheRequestSchema } from "./cache-config-schemas.ts";
import type { CacheConfigView, Endpoints, KeypairConfig } from "./cache-config-types.ts";
import type { NarInfoCache } from "./narinfo-cache.ts";

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new RequestError(`Invalid request body at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return result.data;
}

/** The keypair stored for a cache: a fresh one named after the cache, or an imported one. */
function keypairFor(cacheName: string, config: KeypairConfig): string {
  if (config === "Generate") return generateSigningKey(cacheName).secretKeyString();
  try {
    return parseSigningKey(config.Keypair).secretKeyString();
  } catch (err) {
    throw new RequestError(`Invalid keypair: ${(err as Error).message}`);
  }
}

/** Create, read, configure and destroy caches (`/_api/v1/cache-config/{cache}`). */
@injectable()
export class CacheConfigService {
  constructor(
    @inject(DATABASE) private readonly db: Database,
    @inject(CacheAccess) private readonly access: CacheAccess,
    @inject(ENGINE_CONFIG) private readonly config: EngineConfig,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(NARINFO_CACHE) private readonly narInfos: NarInfoCache,
  ) {}

  async get(principal: Principal, cacheName: string, endpoints: Endpoints): Promise<CacheConfigView> {
    return this.access.withCache(principal, cacheName, async (cache, permission) => {
      requirePermission(permission, "pull");
      return {
        substituter_endpoint: endpoints.substituterEndpoint + cache.name,
        api_endpoint: endpoints.apiEndpoint,
        public_key: parseSigningKey(cache.keypair).publicKeyString(),
        is_public: cache.isPublic,
        store_dir: cache.storeDir,
        priority: cache.priority,
        upstream_cache_key_names: cache.upstreamCacheKeyNames,
        retention_period: cache.retentionPeriod === null ? "Global" : { Period: cache.retentionPeriod },
      };
    });
  }

  async create(principal: Principal, cacheName: string, body: unknown): Promise<void> {
    assertCacheName(cacheName);
    // Creation checks the token alone (no public grant: the cache does not exist yet).
    const permission = permissionOf(principal, cacheName);
    const discoverable = { discoveryPermission: canDiscover(permission) };
    try {
      requirePermission(permission, "createCache");
    } catch (err) {
      Object.assign(err as object, discoverable);
      throw err;
    }
    const request = parseBody(createCacheRequestSchema, body);
    // Remembered "no such cache" answers for this name are wrong from here on.
    const inserted = await this.afterwardsForgetting(cacheName, () => this.db.caches.insertCache({
      name: cacheName,
      keypair: keypairFor(cacheName, request.keypair),
      isPublic: request.is_public,
      storeDir: request.store_dir,
      priority: request.priority,
      upstreamCacheKeyNames: request.upstream_cache_key_names,
      createdAt: this.clock.now(),
      retentionPeriod: null,
    }));
    if (!inserted) throw new CacheAlreadyExistsError(discoverable);
  }

  async configure(principal: Principal, cacheName: string, body: unknown): Promise<void> {
    // The keypair signs every narinfo, and the visibility decides who may read them.
    await this.afterwardsForgetting(cacheName, () => this.configureCache(principal, cacheName, body));
  }

  private configureCache(principal: Principal, cacheName: string, body: unknown): Promise<void> {
    return this.access.withCache(principal, cacheName, async (cache, permission) => {
      requirePermission(permission, "configureCache");
      const request = parseBody(configureCacheRequestSchema, body);
      const patch: CachePatch = {};
      if (request.keypair != null) patch.keypair = keypairFor(cache.name, request.keypair);
      if (request.is_public != null) patch.isPublic = request.is_public;
      if (request.store_dir != null) patch.storeDir = request.store_dir;
      if (request.priority != null) patch.priority = request.priority;
      if (request.upstream_cache_key_names != null) patch.upstreamCacheKeyNames = request.upstream_cache_key_names;
      if (request.retention_period != null) {
        requirePermission(permission, "configureCacheRetention");
        const retention = request.retention_period;
        if (retention !== "Global" && retention.Period > 2_147_483_647) throw new RequestError("Invalid retention period");
        patch.retentionPeriod = retention === "Global" ? null : retention.Period;
      }
      if (Object.keys(patch).length === 0) throw new RequestError("No modifiable fields were set.");
      if (!(await this.db.caches.updateCache(cache.id, patch))) throw new NoSuchCacheError();
    });
  }

  async destroy(principal: Principal, cacheName: string): Promise<void> {
    await this.afterwardsForgetting(cacheName, () =>
      this.access.withCache(principal, cacheName, async (cache, permission) => {
        requirePermission(permission, "destroyCache");
        const soft = this.config["soft-delete-caches"];
        if (!(await this.db.caches.destroyCache(cache.id, { soft, now: this.clock.now() }))) throw new NoSuchCacheError();
      }),
    );
  }

  /** Runs a change to the cache, then drops its remembered narinfos (also after a failure). */
  private async afterwardsForgetting<T>(cacheName: string, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } finally {
      this.narInfos.invalidateCache(cacheName);
    }
  }
}
