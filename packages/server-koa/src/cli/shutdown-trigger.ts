import { isPrimaryMessage } from "./worker-protocol.ts";

/** What starts atticd's shutdown: the first request resolves `requested`; later ones call `again`. */
export interface ShutdownTrigger {
  /** Resolves with what asked first: a signal's name, or "primary" for a worker. */
  readonly requested: Promise<string>;
  /** Removes the listeners. */
  remove(): void;
}

function once(again: () => void): { requested: Promise<string>; request: (why: string) => void } {
  let first = true;
  let resolve!: (why: string) => void;
  const requested = new Promise<string>((r) => (resolve = r));
  const request = (why: string) => {
    if (first) {
      first = false;
      resolve(why);
    } else {
      again();
    }
  };
  return { requested, request };
}

/** For atticd on its own, or a primary process: SIGTERM and SIGINT. */
export function onShutdownSignals(again: () => void): ShutdownTrigger {
  const { requested, request } = once(again);
  const handler = (signal: NodeJS.Signals) => request(signal);
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  return {
    requested,
    remove: () => {
      process.off("SIGTERM", handler);
      process.off("SIGINT", handler);
    },
  };
}

/**
 * For an HTTP worker process: the primary's messages (`worker-protocol.ts`), and the loss of
 * the IPC channel, which means the primary is gone. SIGTERM and SIGINT are ignored: the primary
 * gets them too and relays what to do.
 */
export function onPrimaryRequests(again: () => void): ShutdownTrigger {
  const { requested, request } = once(again);
  const onMessage = (message: unknown) => {
    if (!isPrimaryMessage(message)) return;
    request("primary");
    if (message.attic_ts === "abort") request("primary");
  };
  const onDisconnect = () => request("primary gone");
  const ignore = () => {};
  process.on("message", onMessage);
  process.on("disconnect", onDisconnect);
  process.on("SIGTERM", ignore);
  process.on("SIGINT", ignore);
  return {
    requested,
    remove: () => {
      process.off("message", onMessage);
      process.off("disconnect", onDisconnect);
      process.off("SIGTERM", ignore);
      process.off("SIGINT", ignore);
    },
  };
}
