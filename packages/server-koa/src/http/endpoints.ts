import type { Endpoints } from "@attic-ts/core";
import type { AtticContext, HostSettings } from "./host-context.ts";

/**
 * Where clients reach this server. `api-endpoint` from the config wins; otherwise Attic
 * synthesizes `http(s)://{Host}/`, https when the (untrusted) `X-Forwarded-Proto` says so.
 * Mounted under a prefix, the synthesized endpoint includes it, so clients that append
 * `_api/v1/...` or a cache name land on our routes. The substituter endpoint defaults to the
 * api endpoint.
 */
export function endpointsFor(ctx: AtticContext, settings: HostSettings): Endpoints {
  const https = ctx.get("X-Forwarded-Proto") === "https";
  const apiEndpoint = settings.apiEndpoint ?? `${https ? "https" : "http"}://${ctx.get("Host")}${settings.prefix}/`;
  return { apiEndpoint, substituterEndpoint: settings.substituterEndpoint ?? apiEndpoint };
}
