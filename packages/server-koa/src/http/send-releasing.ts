import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";

/** A client that left while its response was being written; the error handler logs it at debug. */
function clientGone(): Error {
  return Object.assign(new Error("client disconnected"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
}

/** Resolves on `drain`; rejects when the response closes first (the client went away). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      res.off("close", onClose);
      resolve();
    };
    const onClose = (): void => {
      res.off("drain", onDrain);
      reject(clientGone());
    };
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

/**
 * Writes `stream` as the response body and ends the response, handing each piece to `release`
 * once its socket write has completed: the moment the piece's memory may be reused, which
 * Koa's `pipe` never tells. The route sets `ctx.respond = false` and awaits this; status and
 * headers are already on `res`. A failing stream or a client that leaves rejects (with the
 * stream destroyed), and the error handler then closes the connection, so a client never takes
 * a truncated body for a complete one.
 */
export async function sendReleasing(res: ServerResponse, stream: Readable, release: (piece: Uint8Array) => void): Promise<void> {
  try {
    for await (const piece of stream as AsyncIterable<Uint8Array>) {
      // The callback also runs when the write fails (the socket is gone); either way the
      // socket no longer holds the piece.
      if (!res.write(piece, () => release(piece))) await drained(res);
    }
  } catch (err) {
    stream.destroy();
    throw err;
  }
  if (res.destroyed) throw clientGone();
  // Not awaited: a connection that dies before the last bytes are flushed never emits
  // 'finish', and the request would then never end (the host waits for running requests).
  res.end();
}
