import { z } from "zod";
import { parseDurationSeconds } from "./duration.ts";

/** A humantime duration string ("12 hours", "0s") parsed to seconds. */
export const durationSeconds = z.string().transform((text, ctx) => {
  try {
    return parseDurationSeconds(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `expected a duration such as "12 hours" or "30 days": ${(err as Error).message}` });
    return z.NEVER;
  }
});

const byteCount = z.number().int().nonnegative();
const endpoint = z.string().refine((s) => s.endsWith("/"), { message: "must end with \"/\"" });

export const chunkingConfigSchema = z
  .object({
    "nar-size-threshold": byteCount,
    "min-size": byteCount.min(64).max(64 * 1024 * 1024),
    "avg-size": byteCount.min(256).max(256 * 1024 * 1024),
    "max-size": byteCount.min(1024).max(1024 * 1024 * 1024),
  })
  .strict()
  .refine((c) => c["min-size"] <= c["avg-size"] && c["avg-size"] <= c["max-size"], {
    message: "expected min-size <= avg-size <= max-size",
  });

export const compressionConfigSchema = z
  .object({
    type: z.enum(["none", "brotli", "zstd", "xz"]),
    level: z.number().int().optional(),
  })
  .strict();

/**
 * `[garbage-collection]`. `interval` and `default-retention-period` are Attic's; the other keys
 * are attic-ts extensions (Attic does not reject unknown keys in nested tables, so one file can
 * serve both servers). Durations are in seconds once parsed.
 */
export const garbageCollectionConfigSchema = z
  .object({
    interval: durationSeconds.default(43_200),
    "default-retention-period": durationSeconds.default(0),
    /** attic-ts: age after which a pending row no live upload lease holds is reclaimed. */
    "pending-grace-period": durationSeconds.default(86_400),
    /** attic-ts: age after which a storage file no chunk row references is swept. */
    "orphan-file-grace-period": durationSeconds.default(86_400),
    /** attic-ts: how long an upload's holds outlive its last renewal (renewed every third). */
    "upload-lease-period": durationSeconds
      .default(300)
      .refine((s) => s >= 1, { message: "must be at least 1 second" }),
  })
  .strict();

/** `[garbage-collection]` with every default, for when the table is absent. */
export const DEFAULT_GARBAGE_COLLECTION_CONFIG = {
  interval: 43_200,
  "default-retention-period": 0,
  "pending-grace-period": 86_400,
  "orphan-file-grace-period": 86_400,
  "upload-lease-period": 300,
};

export const jwtSigningConfigSchema = z
  .object({
    "token-hs256-secret-base64": z.string().min(1).optional(),
    "token-rs256-secret-base64": z.string().min(1).optional(),
    "token-rs256-pubkey-base64": z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => Object.values(s).filter((v) => v !== undefined).length === 1, {
    message:
      "expected exactly one of token-hs256-secret-base64, token-rs256-secret-base64, token-rs256-pubkey-base64",
  });

export const jwtConfigSchema = z
  .object({
    "token-bound-issuer": z.string().optional(),
    "token-bound-audiences": z.array(z.string()).optional(),
    signing: jwtSigningConfigSchema.optional(),
  })
  .strict();

export const databaseConfigSchema = z.looseObject({
  url: z.string().min(1, "expected a database URL (sqlite://..., postgres://...)"),
  heartbeat: z.boolean().default(false),
});

export const storageConfigSchema = z.looseObject({
  type: z.string(),
});

/**
 * Attic's `server.toml`, kebab-case keys, with Attic's defaults. `storage` and `database` are
 * validated again by the plugin they select, so their own keys are checked there.
 */
export const engineConfigSchema = z
  .object({
    listen: z.string().default("[::]:8080"),
    "allowed-hosts": z.array(z.string()).default([]),
    "api-endpoint": endpoint.optional(),
    "substituter-endpoint": endpoint.optional(),
    "soft-delete-caches": z.boolean().default(false),
    "require-proof-of-possession": z.boolean().default(true),
    "max-nar-info-size": z.number().int().positive().default(1_048_576),
    "token-hs256-secret-base64": z
      .unknown()
      .refine(() => false, {
        message: "token-hs256-secret-base64 at the top level is no longer supported: move it to [jwt.signing]",
      })
      .optional(),
    database: databaseConfigSchema,
    storage: storageConfigSchema,
    chunking: chunkingConfigSchema,
    compression: compressionConfigSchema.default({ type: "zstd" }),
    "garbage-collection": garbageCollectionConfigSchema.default(DEFAULT_GARBAGE_COLLECTION_CONFIG),
    jwt: jwtConfigSchema.default({}),
  })
  .strict();

export type EngineConfig = z.output<typeof engineConfigSchema>;
export type EngineConfigInput = z.input<typeof engineConfigSchema>;
export type ChunkingConfig = z.output<typeof chunkingConfigSchema>;
export type JwtConfig = z.output<typeof jwtConfigSchema>;
