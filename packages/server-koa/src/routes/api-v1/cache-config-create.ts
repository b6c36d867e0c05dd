import type Router from "@koa/router";
import type { AtticState, HostSettings } from "../../http/host-context.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { sendEmpty } from "../../http/send.ts";

/** POST `/_api/v1/cache-config/{cache}`: create a cache (`CreateCacheRequest`); needs `cc`. */
export function registerCacheConfigCreate(router: Router<AtticState>, settings: HostSettings): void {
  router.post("/_api/v1/cache-config/:cache", async (ctx) => {
    const body = await readJsonBody(ctx);
    await settings.engine.caches.create(ctx.state.principal, ctx.params.cache!, body);
    sendEmpty(ctx);
  });
}
