/**
 * The messages between atticd's primary process and its HTTP worker processes, over the IPC
 * channel `node:cluster` opens. Workers take shutdown from these, never from signals: a
 * terminal's Ctrl-C and systemd's stop signal reach every process of the group at once, and a
 * worker that treated its own copy as a first signal would then take the primary's relay as the
 * second one, which aborts requests.
 */
export type PrimaryMessage =
  /** Stop accepting, let in-flight requests finish within the grace period, then exit. */
  | { attic_ts: "shutdown" }
  /** Abort in-flight requests now (the operator signalled twice). */
  | { attic_ts: "abort" };

/** The worker listens (its server shares the primary's socket) and serves. */
export type WorkerMessage = { attic_ts: "ready"; url: string };

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const kind = (message as { attic_ts?: unknown } | null)?.attic_ts;
  return kind === "shutdown" || kind === "abort";
}

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  const m = message as { attic_ts?: unknown; url?: unknown } | null;
  return m?.attic_ts === "ready" && typeof m.url === "string";
}
