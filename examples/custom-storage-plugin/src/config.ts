import { z } from "zod";

/** The `[storage]` table that selects this plugin: `type = "flat-dir"` and the directory. */
export const flatDirConfigSchema = z.strictObject({
  type: z.literal("flat-dir"),
  /** The directory that holds every blob; created on start. Relative paths use the working directory. */
  path: z.string().min(1, "expected the storage directory"),
});

export type FlatDirConfig = z.output<typeof flatDirConfigSchema>;
