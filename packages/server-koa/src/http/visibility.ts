import type { AtticContext } from "./host-context.ts";

/** Attic's `X-Attic-Cache-Visibility` header, set by the binary cache routes only. */
export const VISIBILITY_HEADER = "X-Attic-Cache-Visibility";

/** Marks the response as coming from a public cache (Attic's `set_visibility_header`). */
export function markVisibility(ctx: AtticContext, isPublic: boolean): void {
  if (isPublic) ctx.set(VISIBILITY_HEADER, "public");
}
