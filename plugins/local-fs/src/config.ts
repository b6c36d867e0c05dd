import { z } from "zod";

/** Attic's `[storage]` table for `type = "local"`. */
export const localStorageConfigSchema = z.strictObject({
  type: z.literal("local"),
  /** The storage directory; created on start when missing. Relative paths use the working directory. */
  path: z.string().min(1, "expected the storage directory"),
  /**
   * attic-ts only: how chunk files are made durable. `file` (default): an fsync per file and
   * per rename; `filesystem`: one flush of the filesystem for many chunks, falling back to
   * `file` where that fails. Attic's server has neither. See docs/differences-from-attic.md.
   */
  sync: z.enum(["file", "filesystem"]).default("file"),
});

export type LocalStorageConfig = z.output<typeof localStorageConfigSchema>;
