import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * An AbortSignal that fires when the client goes away before the response is complete: the
 * request is aborted mid-body, or the connection closes before the response finished. The
 * engine cleans up half-written uploads and open storage streams on it.
 */
export function disconnectSignal(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const abort = () => {
    if (!controller.signal.aborted) controller.abort(new Error("client disconnected"));
  };
  const onClose = () => {
    if (!res.writableFinished) abort();
  };
  // `aborted` is deprecated but is still the only event that says "the body was cut short";
  // the response's `close` before `finish` covers a disconnect at any other moment.
  req.once("aborted", abort);
  res.once("close", onClose);
  res.once("finish", () => req.off("aborted", abort));
  return controller.signal;
}
