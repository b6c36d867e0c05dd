import Koa from "koa";
import Router from "@koa/router";
import type { Engine } from "@attic-ts/core";
import { atticMiddleware } from "@attic-ts/server-koa";

export interface HostAppOptions {
  /** Where the binary cache is mounted, such as `/cache`. */
  cachePrefix: string;
}

/**
 * An ordinary Koa application with routes of its own, which also mounts the Attic API under
 * `cachePrefix`. Requests under the prefix are answered by the cache; everything else falls
 * through to the application's router.
 */
export function createHostApp(engine: Engine, options: HostAppOptions): Koa {
  const app = new Koa();

  // The application's own middleware runs for every request, the cache's included.
  app.use(async (ctx, next) => {
    const started = performance.now();
    await next();
    ctx.set("X-Host-App", "koa-mount-example");
    ctx.set("X-Response-Time", `${(performance.now() - started).toFixed(1)}ms`);
  });

  // The cache: Attic's whole API (and its error handling) under the prefix, nothing outside it.
  app.use(atticMiddleware(engine, { prefix: options.cachePrefix }));

  const router = new Router();
  router.get("/", (ctx) => {
    ctx.body = `An existing Koa app. The Nix binary cache lives under ${options.cachePrefix}/.\n`;
  });
  router.get("/healthz", (ctx) => {
    ctx.body = { status: "ok", cachePrefix: options.cachePrefix };
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
