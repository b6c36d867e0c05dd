import Koa from "koa";
import type { Middleware } from "koa";
import { LOGGER, noopLogger, resolve, type Engine, type Logger } from "@attic-ts/core";
import type { RequestHandler } from "./cli/http-host.ts";
import { compose } from "./http/compose.ts";
import type { AtticState, HostSettings } from "./http/host-context.ts";
import { auth } from "./middleware/auth.ts";
import { errorHandler } from "./middleware/error-handler.ts";
import { withNarInfoFastLane } from "./http/narinfo-fast-lane.ts";
import { requestId } from "./middleware/request-id.ts";
import { restrictHost } from "./middleware/restrict-host.ts";
import { buildRoutes } from "./router.ts";

/** How the HTTP host runs; each option defaults to the engine config key named. */
export interface HostOptions {
  /** Request logging (pino or anything with its shape); defaults to the engine's logger. */
  logger?: Logger;
  /** `allowed-hosts`: exact `Host` header values (with `:port`) to accept; empty accepts all. */
  allowedHosts?: string[];
  /** `api-endpoint`: the URL clients use for `/_api/v1`, ending with `/`. */
  apiEndpoint?: string;
  /** `substituter-endpoint`: the URL prefix of caches for Nix, ending with `/`. */
  substituterEndpoint?: string;
  /** `max-nar-info-size`: largest upload info preamble, in bytes (default 1 MiB). */
  maxNarInfoSize?: number;
}

/** Options of {@link atticMiddleware}: the host options plus where the routes are mounted. */
export interface AtticMiddlewareOptions extends HostOptions {
  /** Path prefix such as `/cache`; requests outside it go to the next middleware. */
  prefix?: string;
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? "").replace(/\/+$/, "");
  if (trimmed !== "" && !trimmed.startsWith("/")) return `/${trimmed}`;
  return trimmed;
}

function engineLogger(engine: Engine): Logger {
  return engine.container.isRegistered(LOGGER, true) ? resolve(engine.container, LOGGER) : noopLogger;
}

/** The host options with their defaults from the engine's config applied. */
export function settingsFor(engine: Engine, options: AtticMiddlewareOptions): HostSettings {
  const config = engine.config;
  return {
    engine,
    logger: options.logger ?? engineLogger(engine),
    allowedHosts: options.allowedHosts ?? config["allowed-hosts"],
    apiEndpoint: options.apiEndpoint ?? config["api-endpoint"],
    substituterEndpoint: options.substituterEndpoint ?? config["substituter-endpoint"],
    maxNarInfoSize: options.maxNarInfoSize ?? config["max-nar-info-size"],
    prefix: normalizePrefix(options.prefix),
  };
}

/**
 * Attic's whole API as one Koa middleware, in Attic's layer order: request id and logging →
 * error mapping → `restrict_host` → auth → routes (unmatched: JSON 404). With a `prefix`,
 * requests under it are routed with the prefix stripped (and restored afterwards), and any
 * other request falls through to `next()`, so an existing app can mount the cache next to its
 * own routes.
 */
export function atticMiddleware(engine: Engine, options: AtticMiddlewareOptions = {}): Middleware {
  const settings = settingsFor(engine, options);
  const run = compose<AtticState>([
    requestId(settings.logger),
    errorHandler(),
    restrictHost(settings.allowedHosts),
    auth(engine.tokens),
    buildRoutes(settings),
  ]);
  const prefix = settings.prefix;
  return async (ctx, next) => {
    const attic = ctx as unknown as Parameters<typeof run>[0];
    if (prefix === "") return run(attic);
    const original = ctx.path;
    if (original !== prefix && !original.startsWith(`${prefix}/`)) return next();
    ctx.path = original.slice(prefix.length) || "/";
    try {
      await run(attic);
    } finally {
      ctx.path = original;
    }
  };
}

/**
 * A Koa app serving Attic's API at `/`; call `listen` or use `app.callback()` yourself. Koa's
 * own error reports (which would otherwise go to the console) go to the logger at debug: every
 * request failure is already logged by the error handler.
 */
export function createApp(engine: Engine, options: HostOptions = {}): Koa {
  const logger = options.logger ?? engineLogger(engine);
  const app = new Koa();
  app.on("error", (err: unknown) => logger.debug({ err }, "koa reported an error"));
  app.use(atticMiddleware(engine, { ...options, logger }));
  return app;
}

/**
 * A `node:http` request handler for Attic's API at `/` (what `atticd` serves): the Koa app of
 * {@link createApp}, with the commonest narinfo requests answered in front of it (see
 * `http/narinfo-fast-lane.ts`; the responses are the same).
 */
export function createRequestHandler(engine: Engine, options: HostOptions = {}): RequestHandler {
  const logger = options.logger ?? engineLogger(engine);
  const app = createApp(engine, { ...options, logger });
  return withNarInfoFastLane(settingsFor(engine, { ...options, logger }), app.callback());
}
