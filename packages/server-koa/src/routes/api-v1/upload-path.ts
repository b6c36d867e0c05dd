import type Router from "@koa/router";
import type { UploadPathResult } from "@attic-ts/core";
import { disconnectSignal } from "../../http/disconnect-signal.ts";
import type { AtticState, HostSettings } from "../../http/host-context.ts";
import { sendJson } from "../../http/send.ts";
import { readUploadRequest } from "../../http/upload-body.ts";

/** Attic's `UploadPathResult` with its key order; `file_size` only when known. */
function wireResult(result: UploadPathResult): Record<string, unknown> {
  if (result.kind === "Deduplicated") return { kind: "Deduplicated", frac_deduplicated: null };
  return { kind: "Uploaded", file_size: result.file_size, frac_deduplicated: result.frac_deduplicated };
}

/**
 * PUT `/_api/v1/upload-path`: upload info from the preamble or the `X-Attic-Nar-Info` header,
 * then the uncompressed NAR streamed into the engine; needs push. When the client disconnects
 * the signal fires and the engine removes everything this upload wrote.
 */
export function registerUploadPath(router: Router<AtticState>, settings: HostSettings): void {
  router.put("/_api/v1/upload-path", async (ctx) => {
    const signal = disconnectSignal(ctx.req, ctx.res);
    const { info, nar } = await readUploadRequest(ctx.req, settings.maxNarInfoSize);
    const result = await settings.engine.uploads.uploadPath(ctx.state.principal, info, nar, signal);
    sendJson(ctx, 200, wireResult(result));
  });
}
