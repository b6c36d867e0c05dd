import Router from "@koa/router";
import type { Middleware } from "koa";
import { NotFoundError } from "@attic-ts/core";
import type { AtticRouteContext, AtticState, HostSettings } from "./http/host-context.ts";
import { matchNarInfoRequest } from "./http/narinfo-shortcut.ts";
import { registerCacheConfigConfigure } from "./routes/api-v1/cache-config-configure.ts";
import { registerCacheConfigCreate } from "./routes/api-v1/cache-config-create.ts";
import { registerCacheConfigDestroy } from "./routes/api-v1/cache-config-destroy.ts";
import { registerAtticCacheInfo, registerCacheConfigGet } from "./routes/api-v1/cache-config-get.ts";
import { registerGetMissingPaths } from "./routes/api-v1/get-missing-paths.ts";
import { registerUploadPath } from "./routes/api-v1/upload-path.ts";
import { registerNar } from "./routes/nar.ts";
import { narInfoRoute, registerNarInfo } from "./routes/narinfo.ts";
import { registerNixCacheInfo } from "./routes/nix-cache-info.ts";
import { registerRoot } from "./routes/root.ts";

/**
 * Attic's routes in its order. @koa/router runs every matching route in registration order and
 * stops at the first that doesn't call `next`, so the static `{cache}/nix-cache-info` and
 * `{cache}/attic-cache-info` are registered before `{cache}/{path}` to win over it. Matching is
 * case-sensitive and strict about trailing slashes, as axum's is.
 */
export function buildRouter(settings: HostSettings): Router<AtticState> {
  const router = new Router<AtticState>({ strict: true, sensitive: true });
  registerRoot(router);
  registerNixCacheInfo(router, settings);
  registerAtticCacheInfo(router, settings);
  registerNarInfo(router, settings);
  registerNar(router, settings);
  registerGetMissingPaths(router, settings);
  registerUploadPath(router, settings);
  registerCacheConfigGet(router, settings);
  registerCacheConfigCreate(router, settings);
  registerCacheConfigConfigure(router, settings);
  registerCacheConfigDestroy(router, settings);
  return router;
}

/**
 * The routes as one middleware. A narinfo request goes straight to its route (see
 * `http/narinfo-shortcut.ts`), with `params` set as the router sets them; anything else through
 * the router. Anything unmatched (also a known path with another method) is Attic's JSON 404
 * `NotFound`.
 */
export function buildRoutes(settings: HostSettings): Middleware<AtticState> {
  const routes = buildRouter(settings).routes() as Middleware<AtticState>;
  const narInfo = narInfoRoute(settings);
  return (ctx, _next) => {
    const params = matchNarInfoRequest(ctx.method, ctx.path);
    if (params) {
      const routeCtx = ctx as AtticRouteContext;
      routeCtx.params = routeCtx.request.params = { ...routeCtx.params, ...params };
      return narInfo(routeCtx);
    }
    return routes(ctx, async () => {
      throw new NotFoundError();
    });
  };
}
