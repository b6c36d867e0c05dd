/** Services already running, which a test run uses instead of starting its own. */
export interface SharedServices {
  postgresUrl: string;
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
}

/** The variable holding the JSON that test/setup/dev-services.ts prints. */
export const SHARED_SERVICES_VARIABLE = "ATTIC_TS_TEST_SERVICES";

/**
 * Reads `ATTIC_TS_TEST_SERVICES`; undefined when unset. A value that is set but malformed throws:
 * a run must not silently fall back to something else than what the developer asked for.
 */
export function sharedServicesFromEnv(env: NodeJS.ProcessEnv): SharedServices | undefined {
  const raw = env[SHARED_SERVICES_VARIABLE];
  if (!raw) return undefined;
  const parsed = JSON.parse(raw) as Partial<SharedServices>;
  const s3 = parsed.s3;
  if (typeof parsed.postgresUrl !== "string" || !s3 || typeof s3.endpoint !== "string" || typeof s3.accessKeyId !== "string" ||
    typeof s3.secretAccessKey !== "string" || typeof s3.region !== "string") {
    throw new Error(`${SHARED_SERVICES_VARIABLE} must be the JSON printed by test/setup/dev-services.ts, got: ${raw}`);
  }
  return { postgresUrl: parsed.postgresUrl, s3 };
}
