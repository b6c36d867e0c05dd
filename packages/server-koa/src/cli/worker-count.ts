import { availableParallelism } from "node:os";
import { ConfigError } from "@attic-ts/core";
import type { Env } from "../config/xdg-paths.ts";

/**
 * How many processes serve HTTP: a whole number, or "auto" for one per core. An attic-ts
 * addition: Attic's server is one multi-threaded process, and one Node process serves HTTP on
 * one thread, so on a machine with several cores this is how atticd uses them.
 */
export const WORKERS_VARIABLE = "ATTIC_TS_WORKERS";

/** More is surely a typo; each worker holds its own engine and connection pools. */
const MAX_WORKERS = 256;

/** The number of HTTP worker processes `env` asks for; 1 (one process, no workers) when unset. */
export function httpWorkerCount(env: Env, cores: number = availableParallelism()): number {
  const text = env[WORKERS_VARIABLE]?.trim();
  if (text === undefined || text === "") return 1;
  if (text === "auto") return Math.max(1, cores);
  const count = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(count >= 1 && count <= MAX_WORKERS)) {
    throw new ConfigError(`expected "auto" or a whole number of processes from 1 to ${MAX_WORKERS}, got ${JSON.stringify(text)}`, WORKERS_VARIABLE);
  }
  return count;
}
