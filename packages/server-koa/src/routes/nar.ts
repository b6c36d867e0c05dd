import type Router from "@koa/router";
import { disconnectSignal } from "../http/disconnect-signal.ts";
import type { AtticState, HostSettings } from "../http/host-context.ts";
import { NAR_MIME } from "../http/mime.ts";
import { sendEmpty } from "../http/send.ts";
import { sendReleasing } from "../http/send-releasing.ts";
import { markVisibility } from "../http/visibility.ts";

/**
 * GET/HEAD `/{cache}/nar/{path}`: only `<storePathHash>.nar`. The stored (still compressed)
 * bytes are streamed with no Content-Length, or the client is sent to a presigned URL with a
 * 307. HEAD answers the same status and headers but closes the opened stream unread.
 */
export function registerNar(router: Router<AtticState>, settings: HostSettings): void {
  router.get("/:cache/nar/:path", async (ctx) => {
    const signal = disconnectSignal(ctx.req, ctx.res);
    const served = await settings.engine.binaryCache.nar(ctx.state.principal, ctx.params.cache!, ctx.params.path!, signal);
    markVisibility(ctx, served.isPublic);
    const body = served.body;
    if (body.kind === "redirect") {
      ctx.set("Location", body.url);
      sendEmpty(ctx, 307);
      return;
    }
    ctx.status = 200;
    ctx.set("Content-Type", NAR_MIME);
    if (ctx.method === "HEAD") {
      body.stream.destroy();
      return;
    }
    if (body.release === undefined) {
      ctx.body = body.stream;
      return;
    }
    // Written here rather than piped by Koa, so each piece goes back to the engine's buffers
    // once sent (see sendReleasing).
    ctx.respond = false;
    try {
      await sendReleasing(ctx.res, body.stream, body.release);
    } catch (err) {
      // Failed before its first byte (the first chunk file is gone): nothing went out yet, so
      // Koa sends the error handler's JSON answer after all.
      if (!ctx.res.headersSent) ctx.respond = true;
      throw err;
    }
  });
}
