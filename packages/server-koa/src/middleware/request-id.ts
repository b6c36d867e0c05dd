import { randomUUID } from "node:crypto";
import type { Middleware } from "koa";
import { ANONYMOUS, isLevelEnabled, type Logger } from "@attic-ts/core";
import type { AtticState } from "../http/host-context.ts";
import { RequestLogger } from "../http/request-logger.ts";

/**
 * Gives the request an id and a logger bound to it (Attic's TraceLayer), and logs the outcome
 * at debug once the response is finished or the connection is gone (streamed bodies end long
 * after the middleware chain returns). The bound logger is made only when something is logged,
 * and the outcome is watched only while debug is enabled: a narinfo hit does neither
 * (BENCHMARKS.md, eleventh pass).
 */
export function requestId(logger: Logger): Middleware<AtticState> {
  return async (ctx, next) => {
    const reqId = randomUUID();
    const log = new RequestLogger(logger, { reqId });
    ctx.state.reqId = reqId;
    ctx.state.log = log;
    ctx.state.principal = ANONYMOUS;
    if (isLevelEnabled(logger, "debug")) {
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
    }
    await next();
  };
}
