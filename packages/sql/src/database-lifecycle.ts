import type { Knex } from "knex";
import type { Lifecycle, Logger } from "@attic-ts/core";
import type { KnexDatabase } from "./knex-database.ts";

/** Attic's heartbeat period (ms): `SELECT 'heartbeat'` once a minute when enabled. */
export const HEARTBEAT_INTERVAL_MS = 60_000;

export interface DatabaseLifecycleOptions {
  knex: Knex;
  db: KnexDatabase;
  /** Checks the connection at start (the engine's start fails when it throws). */
  verify: () => Promise<void>;
  /** `database.heartbeat`: run `SELECT 'heartbeat'` every minute. */
  heartbeat: boolean;
  logger: Logger;
}

/**
 * The start and stop hooks every knex-backed database plugin needs: verify the connection, run
 * Attic's optional heartbeat (a timer that never keeps the process alive), close the pool.
 */
export function attachDatabaseLifecycle(lifecycle: Lifecycle, options: DatabaseLifecycleOptions): void {
  const { knex, db, verify, heartbeat, logger } = options;
  let timer: ReturnType<typeof setInterval> | undefined;
  lifecycle.onStart(async () => {
    await verify();
    if (heartbeat) {
      timer = setInterval(() => {
        knex.raw("SELECT 'heartbeat'").catch((err: unknown) => logger.warn({ err }, "database heartbeat failed"));
      }, HEARTBEAT_INTERVAL_MS);
      timer.unref();
    }
  });
  lifecycle.onStop(async () => {
    if (timer) clearInterval(timer);
    await db.close();
  });
}
