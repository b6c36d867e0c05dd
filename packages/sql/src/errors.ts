import { DatabaseError, isAtticError } from "@attic-ts/core";
import type { Dialect } from "./dialect.ts";

/**
 * Turns a driver error into a `DatabaseError` that names the operation and keeps the driver
 * error as `cause`. Domain errors (already an AtticError) pass through unchanged.
 */
export function toDatabaseError(operation: string, err: unknown): Error {
  if (isAtticError(err)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new DatabaseError(`Database operation "${operation}" failed: ${detail}`, { cause: err });
}

/**
 * Runs one repository operation, mapping failures to `DatabaseError`. `onUnique` gives the
 * message for a unique-constraint violation, so callers get a clear reason for that case.
 */
export async function runQuery<T>(
  dialect: Dialect,
  operation: string,
  fn: () => Promise<T>,
  onUnique?: () => string,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (onUnique && dialect.isUniqueViolation(err)) {
      throw new DatabaseError(`Database operation "${operation}" failed: ${onUnique()}`, { cause: err });
    }
    throw toDatabaseError(operation, err);
  }
}
