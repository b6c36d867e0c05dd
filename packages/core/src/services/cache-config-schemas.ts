import { z } from "zod";

const keypair = z.union([z.literal("Generate"), z.object({ Keypair: z.string() }).strict()]);
const retention = z.union([z.literal("Global"), z.object({ Period: z.number().int().nonnegative() }).strict()]);
// Attic's priority and retention are i32 in the database.
const i32 = z.number().int().min(-2_147_483_648).max(2_147_483_647);

/** POST body; every key required, as serde requires them. */
export const createCacheRequestSchema = z.object({
  keypair,
  is_public: z.boolean(),
  store_dir: z.string().min(1),
  priority: i32,
  upstream_cache_key_names: z.array(z.string()),
});

/** PATCH body; Option fields may be absent or null. */
export const configureCacheRequestSchema = z.object({
  keypair: keypair.nullish(),
  is_public: z.boolean().nullish(),
  store_dir: z.string().min(1).nullish(),
  priority: i32.nullish(),
  upstream_cache_key_names: z.array(z.string()).nullish(),
  retention_period: retention.nullish(),
  substituter_endpoint: z.unknown().optional(),
  api_endpoint: z.unknown().optional(),
  public_key: z.unknown().optional(),
});
