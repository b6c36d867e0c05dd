import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@attic-ts/core";
import { formatHttpUrl, type ListenAddress } from "../config/listen-address.ts";

/** A request handler that returns a promise settling when its work is done (Koa's `callback()`). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface HttpHostOptions {
  logger: Logger;
  /** How long in-flight requests may run after shutdown begins, in ms, before their sockets are destroyed. */
  graceMs: number;
  /** How long to wait for handlers to clean up after their sockets were destroyed, in ms. */
  cleanupMs?: number;
}

/** A listening HTTP server that can drain and stop. */
export interface HttpHost {
  readonly server: Server;
  /** The bound address as a URL, e.g. `http://127.0.0.1:41234` or `http://[::]:8080`. */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, lets in-flight requests finish within the grace period, then
   * destroys the remaining sockets (aborting uploads, whose handlers clean up) and waits for
   * the handlers. A second call while draining destroys the sockets at once.
   */
  shutdown(): Promise<void>;
}

const DEFAULT_CLEANUP_MS = 10_000;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/** Handlers still running, so shutdown waits for cleanup that runs after a socket is gone. */
class HandlerCount {
  running = 0;
  #waiting: Array<() => void> = [];

  constructor(private readonly failed: (err: unknown) => void) {}

  track(work: PromiseLike<unknown>): void {
    this.running++;
    work.then(this.#settled, this.#failed);
  }

  /** Resolves once no handler is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  readonly #failed = (err: unknown): void => {
    this.failed(err);
    this.#settled();
  };

  readonly #settled = (): void => {
    if (--this.running > 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  };
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Starts an HTTP server for `handler` on `address` and resolves once it is listening. */
export async function startHttpHost(handler: RequestHandler, address: ListenAddress, options: HttpHostOptions): Promise<HttpHost> {
  const { logger, graceMs } = options;
  const cleanupMs = options.cleanupMs ?? DEFAULT_CLEANUP_MS;
  const failed = (err: unknown) => logger.error({ err }, "request handler failed");
  const handlers = new HandlerCount(failed);
  const server = createServer((req, res) => {
    let work: unknown;
    try {
      work = handler(req, res);
    } catch (err) {
      failed(err);
      return;
    }
    // A count, not a set of promises, so a request costs one extra promise (a narinfo request
    // allocates little else; BENCHMARKS.md, twelfth pass).
    if (isPromiseLike(work)) handlers.track(work);
  });
  // Node's default 300 s request timeout would cut off large NAR uploads; Attic has none.
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const url = formatHttpUrl(bound.address, bound.port);

  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  let draining: Promise<void> | undefined;

  const drain = async (): Promise<void> => {
    server.close();
    // Keep-alive connections that go idle while draining are closed as they become idle.
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    const grace = delay(graceMs);
    const allDone = Promise.all([closed, handlers.idle()]);
    try {
      const finished = await Promise.race([allDone.then(() => true), grace.promise.then(() => false)]);
      if (finished) return;
      logger.warn({ requests: handlers.running }, "grace period over: aborting in-flight requests");
      server.closeAllConnections();
      const cleanup = delay(cleanupMs);
      const cleaned = await Promise.race([allDone.then(() => true), cleanup.promise.then(() => false)]);
      cleanup.cancel();
      if (!cleaned) logger.error({ requests: handlers.running }, "requests still running after their sockets were closed");
    } finally {
      grace.cancel();
      clearInterval(idleSweep);
    }
  };

  return {
    server,
    url,
    port: bound.port,
    shutdown() {
      if (draining) {
        server.closeAllConnections();
        return draining;
      }
      draining = drain();
      return draining;
    },
  };
}
