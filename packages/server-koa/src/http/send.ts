import type { AtticContext } from "./host-context.ts";

/**
 * Replies with JSON exactly as axum's `Json` does: `Content-Type: application/json` without a
 * charset, keys in the order the value was built in.
 */
export function sendJson(ctx: AtticContext, status: number, value: unknown): void {
  ctx.status = status;
  ctx.set("Content-Type", "application/json");
  ctx.body = JSON.stringify(value);
}

/** Replies with text under a fixed MIME type (Attic's `text/x-nix-*` carry no charset). */
export function sendText(ctx: AtticContext, contentType: string, text: string): void {
  ctx.status = 200;
  ctx.set("Content-Type", contentType);
  ctx.body = text;
}

/** Attic's unit-returning handlers: 200, empty body, no Content-Type. */
export function sendEmpty(ctx: AtticContext, status = 200): void {
  // Assigning null makes Koa pick 204, so the status is set afterwards; the explicit null body
  // then makes Koa send `Content-Length: 0` and no Content-Type.
  ctx.body = null;
  ctx.status = status;
}
