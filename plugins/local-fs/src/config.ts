import { z } from "zod";

/** Attic's `[storage]` table for `type = "local"`. */
export const localStorageConfigSchema = z.strictObject({
  type: z.literal("local"),
  /** The storage directory; created on start when missing. Relative paths use the working directory. */
  path: z.string().min(1, "expected the storage directory"),
});

export type LocalStorageConfig = z.output<typeof localStorageConfigSchema>;
