import { StorageError } from "@attic-ts/core";

/** The errno code of a failed `node:fs` call (`"ENOENT"`, ...), if it has one. */
export const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** A StorageError naming what local storage could not do, to which path, and why; keeps the cause. */
export function storageError(action: string, path: string, cause: unknown): StorageError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError(`Local storage could not ${action} ${path}: ${detail}`, { cause });
}

/** `step`, its failure reported as a StorageError that keeps the cause. */
export function failsAs<T>(step: Promise<T>, action: string, path: string): Promise<T> {
  return step.catch((err: unknown) => {
    throw storageError(action, path, err);
  });
}
