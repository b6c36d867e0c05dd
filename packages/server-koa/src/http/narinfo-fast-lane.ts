import type { IncomingMessage, ServerResponse } from "node:http";
import { ANONYMOUS, isLevelEnabled, NoSuchObjectError } from "@attic-ts/core";
import type { RequestHandler } from "../cli/http-host.ts";
import { errorBody, toHttpError, type HttpError } from "../middleware/error-handler.ts";
import { hostProblem } from "../middleware/restrict-host.ts";
import type { HostSettings } from "./host-context.ts";
import { NARINFO_MIME } from "./mime.ts";
import { matchPlainNarInfoUrl } from "./narinfo-shortcut.ts";
import { VISIBILITY_HEADER } from "./visibility.ts";

/**
 * Why the commonest narinfo requests are answered without Koa: a Nix client asks for a narinfo
 * per store path, so a busy cache serves mostly these, and after the engine answers from
 * memory most of a request's CPU was Koa's context, the middleware chain and its promises
 * (BENCHMARKS.md, twelfth pass).
 *
 * The lane takes only a request whose whole answer it knows to be the one the Koa stack gives:
 * - a GET or HEAD of `/{cache}/{hash}.narinfo` spelled in plain characters (nothing to decode,
 *   no query), so the router would send it to the narinfo route with these exact parameters;
 * - no `Authorization` header, so the caller is anonymous as the auth middleware would make it;
 * - a Host header that `restrict_host` accepts;
 * - debug logging off, so no request log line is owed (the Koa path writes one at debug);
 * - the engine answers, finds no such path (`narInfoOrMiss`'s null: the NoSuchObject 404), or
 *   fails with an error that maps to a 4xx (logged at debug only).
 * Anything else, a failure that maps to a 5xx included, is handed to the Koa app, which then
 * handles the request from the start, logging and all. `narinfo-fast-lane.test.ts` compares
 * the raw responses of both paths byte for byte.
 */
export function withNarInfoFastLane(settings: HostSettings, app: RequestHandler): RequestHandler {
  const { engine, logger, allowedHosts } = settings;
  if (settings.prefix !== "") return app;
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return app(req, res);
    const params = matchPlainNarInfoUrl(req.url ?? "");
    if (
      params === null ||
      req.headers.authorization !== undefined ||
      hostProblem(req.headers.host, allowedHosts) !== null ||
      isLevelEnabled(logger, "debug")
    ) {
      return app(req, res);
    }
    return engine.binaryCache.narInfoOrMiss(ANONYMOUS, params.cache, params.path).then(
      (served) => {
        if (served === null) return replyError(res, noSuchObject);
        const head = served.isPublic ? [VISIBILITY_HEADER, "public"] : [];
        return reply(res, 200, [...head, "Content-Type", NARINFO_MIME], served.body);
      },
      (err: unknown) => {
        const http = toHttpError(err);
        if (http.status >= 500) return app(req, res);
        return replyError(res, http);
      },
    );
  };
}

/** What the error handler answers for NoSuchObject, the commonest 4xx here (a miss). */
const noSuchObject = toHttpError(new NoSuchObjectError());

/** Attic's JSON error body, as the error handler writes it. */
function replyError(res: ServerResponse<IncomingMessage>, http: HttpError): void {
  reply(res, http.status, ["Content-Type", "application/json"], errorBody(http));
}

/** Headers in the order the Koa path sets them; Node adds Date and the keep-alive pair. */
function reply(res: ServerResponse<IncomingMessage>, status: number, headers: string[], body: string): void {
  if (res.destroyed) return;
  headers.push("Content-Length", String(Buffer.byteLength(body)));
  res.writeHead(status, headers);
  // For HEAD, Node sends the head alone and keeps Content-Length, as Koa does.
  res.end(body);
}
