import cluster, { type Worker } from "node:cluster";
import type { Logger } from "@attic-ts/core";
import { isWorkerMessage, type PrimaryMessage } from "./worker-protocol.ts";

export interface HttpWorkersOptions {
  /** How many worker processes serve HTTP (2 or more makes sense). */
  count: number;
  /** The workers' command-line arguments (the primary's script is run again). */
  args: string[];
  logger: Logger;
  /** The workers' shutdown grace period, ms: the primary kills a worker still running well after it. */
  graceMs: number;
}

/** atticd's HTTP worker processes, seen from the primary. */
export interface HttpWorkers {
  /** Where they listen, e.g. `http://127.0.0.1:8080` (one socket, shared). */
  readonly url: string;
  /** The process ids of the workers running now. */
  pids(): number[];
  /**
   * Resolves when the workers cannot go on: a replacement failed before it was ready, or
   * workers kept dying (more than `CRASHES_ALLOWED` in `CRASH_WINDOW_MS`).
   */
  readonly failed: Promise<Error>;
  /** Asks every worker to drain and exit; resolves once all have exited. */
  shutdown(): Promise<void>;
  /** Asks every worker to abort its in-flight requests now. */
  abort(): void;
}

/** Unexpected exits tolerated (each worker replaced) within the window before giving up. */
export const CRASHES_ALLOWED = 5;
export const CRASH_WINDOW_MS = 60_000;
/** After the grace period, how long a worker gets to clean up before it is killed. */
const KILL_AFTER_GRACE_MS = 20_000;
/** When the start fails, how long the other workers get to stop before they are killed. */
const STARTING_WORKER_KILL_MS = 10_000;

function describeExit(worker: Worker, code: number | null, signal: string | null): string {
  return `worker process ${worker.process.pid} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`;
}

function send(worker: Worker, message: PrimaryMessage): void {
  if (worker.isConnected()) worker.send(message);
}

/**
 * Forks `count` workers (node:cluster; they share the listening socket, and the primary hands
 * out connections in turn) and resolves once all are ready. A worker that exits before it is
 * ready fails the start (the others are stopped): its log says why, and a replacement would
 * only fail the same way. One that dies later is replaced.
 */
export function startHttpWorkers(options: HttpWorkersOptions): Promise<HttpWorkers> {
  const { count, logger } = options;
  cluster.setupPrimary({ args: options.args });
  const live = new Set<Worker>();
  const crashes: number[] = [];
  // Set once the workers are asked to stop; a worker that becomes ready after that (it was
  // still starting, with no listener for the message yet) is asked again.
  let stopMessage: PrimaryMessage | undefined;
  const stopAll = (message: PrimaryMessage) => {
    stopMessage = message;
    for (const w of live) send(w, message);
  };
  let url = "";
  let reportFailure!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
  const allExited = () => new Promise<void>((resolve) => (live.size === 0 ? resolve() : cluster.once("exit", () => resolve(allExited()))));

  return new Promise<HttpWorkers>((resolveStart, rejectStart) => {
    let started = false;
    let readyCount = 0;
    const fail = (err: Error) => {
      if (!started) {
        started = true;
        stopAll({ attic_ts: "abort" });
        const killer = setTimeout(() => {
          for (const w of live) w.process.kill("SIGKILL");
        }, STARTING_WORKER_KILL_MS);
        void allExited().then(() => {
          clearTimeout(killer);
          rejectStart(err);
        });
      } else {
        reportFailure(err);
      }
    };
    const fork = () => {
      const worker = cluster.fork();
      let ready = false;
      live.add(worker);
      // An IPC failure; the worker's exit, if it follows, is handled below.
      worker.on("error", (err) => logger.error({ err, worker: worker.process.pid }, "HTTP worker channel error"));
      worker.on("message", (message: unknown) => {
        if (!isWorkerMessage(message) || ready) return;
        ready = true;
        if (stopMessage) {
          send(worker, stopMessage);
          return;
        }
        url = message.url;
        logger.debug({ worker: worker.process.pid }, "HTTP worker ready");
        if (!started && ++readyCount === count) {
          started = true;
          resolveStart(workers);
        }
      });
      worker.on("exit", (code, signal) => {
        live.delete(worker);
        if (stopMessage) return;
        const what = describeExit(worker, code, signal);
        if (!ready) {
          fail(new Error(`${what} before it was ready (its log above says why)`));
          return;
        }
        const now = Date.now();
        crashes.push(now);
        while (crashes.length > 0 && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
        if (crashes.length > CRASHES_ALLOWED) {
          fail(new Error(`${what}; ${crashes.length} workers died within ${CRASH_WINDOW_MS / 1000} s, giving up`));
          return;
        }
        logger.error({ worker: worker.process.pid, code, signal }, `${what}; starting a replacement`);
        fork();
      });
    };

    const workers: HttpWorkers = {
      get url() {
        return url;
      },
      pids: () => [...live].flatMap((w) => w.process.pid ?? []),
      failed,
      async shutdown() {
        stopAll({ attic_ts: "shutdown" });
        // A worker that hangs past its own grace period and cleanup is killed.
        const killer = setTimeout(() => {
          for (const w of live) {
            logger.error({ worker: w.process.pid }, "HTTP worker still running after its grace period: killing it");
            w.process.kill("SIGKILL");
          }
        }, options.graceMs + KILL_AFTER_GRACE_MS);
        await allExited();
        clearTimeout(killer);
      },
      abort() {
        stopAll({ attic_ts: "abort" });
      },
    };
    for (let i = 0; i < count; i++) fork();
  });
}
