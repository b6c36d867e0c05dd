import { randomUUID } from "node:crypto";
import type { Middleware } from "koa";
import { ANONYMOUS, type Logger } from "@attic-ts/core";
import type { AtticState } from "../http/host-context.ts";

/**
 * Gives the request an id and a logger bound to it (Attic's TraceLayer), and logs the outcome
 * at debug once the response is finished or the connection is gone (streamed bodies end long
 * after the middleware chain returns).
 */
export function requestId(logger: Logger): Middleware<AtticState> {
  return async (ctx, next) => {
    const reqId = randomUUID();
    const log = logger.child({ reqId });
    ctx.state.reqId = reqId;
    ctx.state.log = log;
    ctx.state.principal = ANONYMOUS;
    const started = performance.now();
    ctx.res.once("close", () => {
      log.debug(
        {
          method: ctx.method,
          url: ctx.originalUrl,
          status: ctx.res.statusCode,
          completed: ctx.res.writableFinished,
          ms: Math.round(performance.now() - started),
        },
        "request finished",
      );
    });
    await next();
  };
}
