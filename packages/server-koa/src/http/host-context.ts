import type { ParameterizedContext } from "koa";
import type { RouterContext } from "@koa/router";
import type { Engine, Logger, Principal } from "@attic-ts/core";

/** Per-request state the middleware chain fills in before a route runs. */
export interface AtticState {
  /** Random id carried by every log line of this request. */
  reqId: string;
  /** The host logger bound to `reqId`. */
  log: Logger;
  /** Who is asking: a verified token's principal, or core's ANONYMOUS. */
  principal: Principal;
}

/** Koa's context with our state (middleware before the router). */
export type AtticContext = ParameterizedContext<AtticState>;

/** A route handler's context: ours plus the router's `params`. */
export type AtticRouteContext = RouterContext<AtticState>;

/** Host options with their defaults applied; what every middleware and route reads. */
export interface HostSettings {
  engine: Engine;
  logger: Logger;
  /** Exact `Host` header values allowed; empty allows every host. */
  allowedHosts: readonly string[];
  /** Config `api-endpoint` (ends with `/`), or undefined to synthesize it from the request. */
  apiEndpoint: string | undefined;
  /** Config `substituter-endpoint` (ends with `/`), or undefined to use the api endpoint. */
  substituterEndpoint: string | undefined;
  /** Largest accepted `X-Attic-Nar-Info-Preamble-Size`, in bytes. */
  maxNarInfoSize: number;
  /** Path prefix the routes are mounted under (`""` at the root, else `/x` without a trailing slash). */
  prefix: string;
}
