import type Router from "@koa/router";
import type { AtticState, HostSettings } from "../../http/host-context.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { sendEmpty } from "../../http/send.ts";

/** PATCH `/_api/v1/cache-config/{cache}`: change settings; needs `cr`, plus `cq` for retention. */
export function registerCacheConfigConfigure(router: Router<AtticState>, settings: HostSettings): void {
  router.patch("/_api/v1/cache-config/:cache", async (ctx) => {
    const body = await readJsonBody(ctx);
    await settings.engine.caches.configure(ctx.state.principal, ctx.params.cache!, body);
    sendEmpty(ctx);
  });
}
