/**
 * An error meant for the user: `main` prints its message as `Error: {message}` and exits with
 * status 1, without a stack trace (as Attic's anyhow errors print).
 */
export class ClientError extends Error {
  override readonly name = "ClientError";
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
