import type Router from "@koa/router";
import type { AtticState, HostSettings } from "../http/host-context.ts";
import { NIX_CACHE_INFO_MIME } from "../http/mime.ts";
import { sendText } from "../http/send.ts";
import { markVisibility } from "../http/visibility.ts";

/** GET/HEAD `/{cache}/nix-cache-info`: `WantMassQuery`, `StoreDir`, `Priority`; needs pull. */
export function registerNixCacheInfo(router: Router<AtticState>, settings: HostSettings): void {
  router.get("/:cache/nix-cache-info", async (ctx) => {
    const served = await settings.engine.binaryCache.nixCacheInfo(ctx.state.principal, ctx.params.cache!);
    markVisibility(ctx, served.isPublic);
    sendText(ctx, NIX_CACHE_INFO_MIME, served.body);
  });
}
