import type Router from "@koa/router";
import type { AtticRouteContext, AtticState, HostSettings } from "../http/host-context.ts";
import { NARINFO_MIME } from "../http/mime.ts";
import { sendText } from "../http/send.ts";
import { markVisibility } from "../http/visibility.ts";

/**
 * GET/HEAD `/{cache}/{path}`: only `<storePathHash>.narinfo` exists (anything else, `.ls`
 * included, is 404 NotFound). Signed on the fly with the cache's key; needs pull. HEAD runs the
 * same lookup and Koa drops the body but keeps its Content-Length.
 */
export function narInfoRoute(settings: HostSettings): (ctx: AtticRouteContext) => Promise<void> {
  return async (ctx) => {
    const served = await settings.engine.binaryCache.narInfo(ctx.state.principal, ctx.params.cache!, ctx.params.path!);
    markVisibility(ctx, served.isPublic);
    sendText(ctx, NARINFO_MIME, served.body);
  };
}

/** Registers {@link narInfoRoute}; `router.ts` also calls it directly for `.narinfo` paths. */
export function registerNarInfo(router: Router<AtticState>, settings: HostSettings): void {
  router.get("/:cache/:path", narInfoRoute(settings));
}
