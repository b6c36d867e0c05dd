import type { Readable } from "node:stream";
import type { Middleware } from "koa";
import type { AtticContext, AtticState } from "../http/host-context.ts";

/** An error as Attic puts it on the wire. */
export interface HttpError {
  status: number;
  /** The `error` field: Attic's error kind name. */
  name: string;
  message: string;
}

const INTERNAL: HttpError = {
  status: 500,
  name: "InternalServerError",
  message: "The server encountered an internal error or misconfiguration.",
};
const UNAUTHORIZED: HttpError = { status: 401, name: "Unauthorized", message: "Unauthorized." };

/** Status per core error code whose message is safe to show (Attic's `ErrorKind` arms). */
const STATUS: Readonly<Record<string, number>> = {
  NotFound: 404,
  Unauthorized: 401,
  NoSuchCache: 404,
  CacheAlreadyExists: 400,
  NoSuchObject: 404,
  InvalidCompressionType: 400,
  IncompleteNar: 503,
  AccessError: 403,
  RequestError: 400,
  // Attic answers these "common component" errors with 500 because its match falls through to
  // the default arm. They are caused by client input (a bad cache name, store path or hash),
  // so we deliberately answer 400 with the same `error` name and a useful message.
  InvalidCacheName: 400,
  InvalidStorePath: 400,
  InvalidStorePathName: 400,
  InvalidStorePathHash: 400,
  HashError: 400,
};

/** Errors that mean "this cache is none of your business" for a caller without discovery. */
const HIDDEN_WITHOUT_DISCOVERY = new Set(["NoSuchCache", "NoSuchObject", "AccessError"]);

/**
 * Maps any thrown value to Attic's wire error, by the `code` string alone (never instanceof, so
 * errors from another copy of core map the same). Storage, database and unknown errors become
 * the generic 500; their details are only logged.
 */
export function toHttpError(err: unknown): HttpError {
  const e = err as { code?: unknown; message?: unknown; discoveryPermission?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const status = code === undefined ? undefined : STATUS[code];
  if (status === undefined || typeof e?.message !== "string") return INTERNAL;
  // Attic's sanitisation: without discovery permission the caller learns nothing but 401.
  if (e.discoveryPermission === false && HIDDEN_WITHOUT_DISCOVERY.has(code!)) return UNAUTHORIZED;
  if (code === "Unauthorized") return UNAUTHORIZED;
  return { status, name: code!, message: e.message };
}

/** Attic's JSON error body: `{"code":<status>,"error":<name>,"message":<text>}`. */
export function errorBody(http: HttpError): string {
  return JSON.stringify({ code: http.status, error: http.name, message: http.message });
}

function isClientGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ABORT_ERR";
}

function isReadable(body: unknown): body is Readable {
  return typeof (body as Readable | null)?.pipe === "function" && typeof (body as Readable).once === "function";
}

/**
 * A streamed body (a NAR) that fails after the status line went out cannot turn into an error
 * response any more. Destroying the response destroys the socket, so the client sees a broken
 * transfer instead of a clean, truncated 200.
 */
function guardStreamedBody(ctx: AtticContext, body: Readable): void {
  body.once("error", (err: unknown) => {
    if (isClientGone(err) || !ctx.writable) ctx.state.log.debug({ err }, "response stream ended early: client went away");
    else ctx.state.log.error({ err }, "response stream failed; closing the connection");
    ctx.res.destroy();
  });
}

function respond(ctx: AtticContext, err: unknown): void {
  const log = ctx.state.log;
  if (!ctx.writable || ctx.headerSent) {
    // Nothing can be sent: the client left (a dropped upload) or the head is already out.
    if (isClientGone(err) || !ctx.writable) log.debug({ err }, "request failed after the client went away");
    else log.error({ err }, "request failed after the response started; closing the connection");
    ctx.res.destroy();
    return;
  }
  const http = toHttpError(err);
  if (http.status >= 500) log.error({ err }, "request failed");
  else log.debug({ err, status: http.status, error: http.name }, "request rejected");
  // A failed route may have set headers or a body meant for success; start clean.
  const body = ctx.body;
  if (isReadable(body)) body.destroy();
  for (const name of Object.keys(ctx.response.headers)) {
    if (name.toLowerCase() !== "x-attic-cache-visibility") ctx.remove(name);
  }
  ctx.status = http.status;
  ctx.set("Content-Type", "application/json");
  ctx.body = errorBody(http);
}

/**
 * The only place core errors become HTTP: Attic's JSON error body
 * `{"code":<status>,"error":<name>,"message":<text>}`, 4xx logged at debug, 5xx at error with
 * the request id (bound into `ctx.state.log`).
 */
export function errorHandler(): Middleware<AtticState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      respond(ctx, err);
      return;
    }
    if (isReadable(ctx.body)) guardStreamedBody(ctx, ctx.body);
  };
}
