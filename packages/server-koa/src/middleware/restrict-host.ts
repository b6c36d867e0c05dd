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
    const problem = hostProblem(ctx.req.headers.host, allowedHosts);
    if (problem !== null) throw new RequestError(problem);
    await next();
  };
}

/** Why `restrict_host` rejects this Host header value, or null when it passes. */
export function hostProblem(host: string | undefined, allowedHosts: readonly string[]): string | null {
  if (host === undefined) return "Missing Host header";
  // Rust's HeaderValue::to_str accepts visible ASCII and tab only; Node hands us latin1.
  if (!/^[\t\x20-\x7e]*$/.test(host)) return "Invalid Host header";
  if (allowedHosts.length > 0 && !allowedHosts.includes(host)) return "Bad Host";
  return null;
}
