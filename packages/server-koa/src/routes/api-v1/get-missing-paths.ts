import type Router from "@koa/router";
import { RequestError } from "@attic-ts/core";
import type { AtticState, HostSettings } from "../../http/host-context.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { sendJson } from "../../http/send.ts";

/** Attic's `GetMissingPathsRequest`, checked the way serde would. */
function parseRequest(body: unknown): { cache: string; hashes: string[] } {
  const b = body as { cache?: unknown; store_path_hashes?: unknown } | null;
  if (typeof b !== "object" || b === null || Array.isArray(b)) throw new RequestError("Expected a JSON object");
  if (typeof b.cache !== "string") throw new RequestError("Invalid request body at cache: expected a string");
  const hashes = b.store_path_hashes;
  if (!Array.isArray(hashes) || !hashes.every((h): h is string => typeof h === "string")) {
    throw new RequestError("Invalid request body at store_path_hashes: expected an array of strings");
  }
  return { cache: b.cache, hashes };
}

/** POST `/_api/v1/get-missing-paths`: which hashes the cache lacks; needs push. */
export function registerGetMissingPaths(router: Router<AtticState>, settings: HostSettings): void {
  router.post("/_api/v1/get-missing-paths", async (ctx) => {
    const { cache, hashes } = parseRequest(await readJsonBody(ctx));
    const missing = await settings.engine.missingPaths.getMissingPaths(ctx.state.principal, cache, hashes);
    sendJson(ctx, 200, { missing_paths: missing });
  });
}
