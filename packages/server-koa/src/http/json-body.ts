import { RequestError } from "@attic-ts/core";
import type { AtticContext } from "./host-context.ts";

/** axum's default body limit for the `Json` extractor: 2 MB. */
export const JSON_BODY_LIMIT = 2 * 1024 * 1024;

/** `application/json` or any `application/*+json`, parameters ignored (axum's rule). */
function isJsonContentType(value: string): boolean {
  const essence = value.split(";")[0]!.trim().toLowerCase();
  return essence === "application/json" || (essence.startsWith("application/") && essence.endsWith("+json"));
}

/**
 * Reads and parses a JSON request body of at most `limit` bytes. A missing or non-JSON
 * Content-Type, an oversized body, invalid UTF-8 or invalid JSON are RequestErrors (axum answers
 * these with plain-text 4xx rejections; we keep our JSON error format). When the host app
 * already parsed the body (a body parser mounted before us), that value is used.
 */
export async function readJsonBody(ctx: AtticContext, limit = JSON_BODY_LIMIT): Promise<unknown> {
  if (!isJsonContentType(ctx.get("Content-Type"))) {
    throw new RequestError("Expected request with `Content-Type: application/json`");
  }
  const parsed = (ctx.request as { body?: unknown }).body;
  if (parsed !== undefined && ctx.req.readableEnded) return parsed;

  const declared = Number(ctx.get("Content-Length") || "0");
  if (declared > limit) throw new RequestError(`Request body is larger than ${limit} bytes`);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of ctx.req.iterator({ destroyOnReturn: false })) {
    const buf = part as Buffer;
    size += buf.length;
    if (size > limit) throw new RequestError(`Request body is larger than ${limit} bytes`);
    parts.push(buf);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(parts));
  } catch {
    throw new RequestError("Failed to parse the request body as JSON: invalid UTF-8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RequestError(`Failed to parse the request body as JSON: ${(err as Error).message}`);
  }
}
