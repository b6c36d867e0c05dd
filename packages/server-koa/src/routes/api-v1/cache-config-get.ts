import type Router from "@koa/router";
import { endpointsFor } from "../../http/endpoints.ts";
import type { AtticRouteContext, AtticState, HostSettings } from "../../http/host-context.ts";
import { sendJson } from "../../http/send.ts";

/**
 * Attic's `CacheConfig` (never the keypair), keys in its order; needs pull, so public caches
 * answer anyone.
 */
function cacheConfigHandler(settings: HostSettings) {
  return async (ctx: AtticRouteContext) => {
    const view = await settings.engine.caches.get(ctx.state.principal, ctx.params.cache!, endpointsFor(ctx, settings));
    sendJson(ctx, 200, {
      substituter_endpoint: view.substituter_endpoint,
      api_endpoint: view.api_endpoint,
      public_key: view.public_key,
      is_public: view.is_public,
      store_dir: view.store_dir,
      priority: view.priority,
      upstream_cache_key_names: view.upstream_cache_key_names,
      retention_period: view.retention_period === "Global" ? "Global" : { Period: view.retention_period.Period },
    });
  };
}

/** GET `/_api/v1/cache-config/{cache}`. */
export function registerCacheConfigGet(router: Router<AtticState>, settings: HostSettings): void {
  router.get("/_api/v1/cache-config/:cache", cacheConfigHandler(settings));
}

/** GET `/{cache}/attic-cache-info`, the alias; registered before `/{cache}/{path}` so it wins. */
export function registerAtticCacheInfo(router: Router<AtticState>, settings: HostSettings): void {
  router.get("/:cache/attic-cache-info", cacheConfigHandler(settings));
}
