import type Router from "@koa/router";
import type { AtticState, HostSettings } from "../../http/host-context.ts";
import { sendEmpty } from "../../http/send.ts";

/** DELETE `/_api/v1/cache-config/{cache}`: destroy the cache (soft or hard per config); needs `cd`. */
export function registerCacheConfigDestroy(router: Router<AtticState>, settings: HostSettings): void {
  router.delete("/_api/v1/cache-config/:cache", async (ctx) => {
    await settings.engine.caches.destroy(ctx.state.principal, ctx.params.cache!);
    sendEmpty(ctx);
  });
}
