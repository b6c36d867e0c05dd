import type { Middleware } from "koa";
import { ANONYMOUS, type TokenAuthority } from "@attic-ts/core";
import { tokenFromAuthorizationHeader } from "@attic-ts/token";
import type { AtticState } from "../http/host-context.ts";

/**
 * Attic's `apply_auth`: `Authorization: Bearer <jwt>` or `Basic` with the JWT as password (how
 * Nix sends netrc credentials). A missing, malformed, invalid or expired token is not an
 * error: the request goes on anonymously, and the reason is logged at debug.
 */
export function auth(tokens: TokenAuthority | null): Middleware<AtticState> {
  return async (ctx, next) => {
    ctx.state.principal = ANONYMOUS;
    const jwt = tokenFromAuthorizationHeader(ctx.req.headers.authorization);
    if (jwt !== null) {
      if (tokens === null) {
        ctx.state.log.debug("token ignored: no JWT signing key is configured");
      } else {
        try {
          const principal = await tokens.verify(jwt);
          if (principal) ctx.state.principal = principal;
          else ctx.state.log.debug("token ignored: invalid, expired or foreign");
        } catch (err) {
          ctx.state.log.debug({ err }, "token ignored: verification failed");
        }
      }
    }
    await next();
  };
}
