import type { Middleware } from "koa";
import { RequestError } from "@attic-ts/core";
import type { AtticState } from "../http/host-context.ts";

/**
 * Attic's `restrict_host`: a Host header is required, and when `allowed-hosts` is non-empty it
 * must be one of them exactly (including any `:port`). Node itself rejects HTTP/1.1 requests
 * without Host, so the first check matters for HTTP/1.0.
 */
export function restrictHost(allowedHosts: readonly string[]): Middleware<AtticState> {
  return async (ctx, next) => {
    const host = ctx.req.headers.host;
    if (host === undefined) throw new RequestError("Missing Host header");
    // Rust's HeaderValue::to_str accepts visible ASCII and tab only; Node hands us latin1.
    if (!/^[\t\x20-\x7e]*$/.test(host)) throw new RequestError("Invalid Host header");
    if (allowedHosts.length > 0 && !allowedHosts.includes(host)) throw new RequestError("Bad Host");
    await next();
  };
}
