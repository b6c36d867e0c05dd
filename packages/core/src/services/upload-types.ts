import { z } from "zod";

/**
 * Attic's `UploadPathNarInfo`, the JSON sent in `X-Attic-Nar-Info` or as the body preamble. All
 * keys are required as serde requires them; Option fields may be null.
 */
export const uploadPathNarInfoSchema = z.object({
  cache: z.string(),
  store_path_hash: z.string(),
  store_path: z.string(),
  references: z.array(z.string()),
  system: z.string().nullable(),
  deriver: z.string().nullable(),
  sigs: z.array(z.string()),
  ca: z.string().nullable(),
  nar_hash: z.string(),
  nar_size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

export type UploadPathNarInfo = z.output<typeof uploadPathNarInfoSchema>;

/** Attic's `UploadPathResult`; `file_size` is omitted for deduplicated uploads. */
export type UploadPathResult =
  | { kind: "Uploaded"; file_size: number; frac_deduplicated: number | null }
  | { kind: "Deduplicated"; frac_deduplicated: null };
