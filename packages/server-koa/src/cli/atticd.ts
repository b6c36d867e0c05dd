import cluster from "node:cluster";
import { parseArgs } from "node:util";
import { ConfigError, createEngine, parseDurationSeconds, type Engine } from "@attic-ts/core";
import { createRequestHandler } from "../app.ts";
import { parseListenAddress } from "../config/listen-address.ts";
import { isFirstRun, loadServerConfig, locateServerConfig, validateServerConfig } from "../config/load-server-config.ts";
import { runOobe } from "../config/oobe.ts";
import type { Env } from "../config/xdg-paths.ts";
import { installedPlugins } from "../plugins.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, packageVersion, printError, reportFailure } from "./cli-support.ts";
import { asCoreLogger, createCliLogger } from "./create-logger.ts";
import { startHttpHost, type HttpHost } from "./http-host.ts";
import { startHttpWorkers, type HttpWorkers } from "./http-workers.ts";
import { onPrimaryRequests, onShutdownSignals, type ShutdownTrigger } from "./shutdown-trigger.ts";
import { httpWorkerCount, WORKERS_VARIABLE } from "./worker-count.ts";
import type { WorkerMessage } from "./worker-protocol.ts";

/** Attic's `--mode` values. */
export const ATTICD_MODES = [
  "monolithic",
  "api-server",
  "garbage-collector",
  "db-migrations",
  "garbage-collector-once",
  "check-config",
] as const;
export type AtticdMode = (typeof ATTICD_MODES)[number];

/**
 * How long shutdown lets in-flight requests run before aborting them: a humantime duration
 * (default "30s"). An attic-ts addition; Attic waits without a bound.
 */
export const SHUTDOWN_TIMEOUT_VARIABLE = "ATTIC_TS_SHUTDOWN_TIMEOUT";
const DEFAULT_SHUTDOWN_SECONDS = 30;

const USAGE = `Usage: atticd [-f/--config PATH] [-l/--listen ADDR] [--mode MODE]

Options:
  -f, --config PATH   Path to server.toml (else ATTIC_SERVER_CONFIG_BASE64, else
                      $XDG_CONFIG_HOME/attic/server.toml)
  -l, --listen ADDR   Socket address to listen on, e.g. "[::]:8080" (overrides listen)
      --mode MODE     ${ATTICD_MODES.join(", ")} (default: monolithic)
  -h, --help          Print help
  -V, --version       Print version

Environment: ATTIC_SERVER_DATABASE_URL, ATTIC_SERVER_TOKEN_{RS256_PUBKEY,RS256_SECRET,HS256_SECRET}_BASE64,
ATTIC_TS_PLUGINS (extra plugin modules), ${SHUTDOWN_TIMEOUT_VARIABLE}, ${WORKERS_VARIABLE} (HTTP worker
processes: a number or "auto"), ATTIC_LOG or RUST_LOG (log level).
`;

export interface RunAtticdOptions {
  env?: Env;
}

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "f" },
      listen: { type: "string", short: "l" },
      mode: { type: "string", default: "monolithic" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

/**
 * The `atticd` command. Resolves with the exit code once the command is done: for the serving
 * modes, after a SIGTERM or SIGINT has drained the server and stopped the engine.
 */
export async function runAtticd(argv: string[], options: RunAtticdOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(argv);
  } catch (err) {
    printError(`atticd: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (args.version) {
    process.stdout.write(`atticd ${packageVersion()}\n`);
    return EXIT_OK;
  }
  const mode = args.mode as AtticdMode;
  if (!ATTICD_MODES.includes(mode)) {
    printError(`atticd: invalid --mode "${args.mode}": expected one of ${ATTICD_MODES.join(", ")}`);
    return EXIT_USAGE;
  }

  // An HTTP worker of a primary atticd (`ATTIC_TS_WORKERS`) serves requests and nothing else.
  const isWorker = cluster.isWorker;
  if (!isWorker) printError(`Attic Server ${packageVersion()} (attic-ts)`);

  const logger = createCliLogger(env, "atticd");
  const coreLogger = asCoreLogger(logger);
  let engine: Engine | undefined;
  let host: HttpHost | undefined;
  let workers: HttpWorkers | undefined;
  let trigger: ShutdownTrigger | undefined;
  // Cancels garbage collection (a run in progress and the periodic loop) on shutdown.
  const gcAbort = new AbortController();
  let periodicGc: Promise<void> | undefined;
  try {
    if (mode === "monolithic" && isFirstRun(locateServerConfig({ configPath: args.config, env }))) {
      await runOobe({ env, write: (text) => process.stderr.write(text) });
    }
    const { raw, source } = await loadServerConfig({ configPath: args.config, env });
    const plugins = await installedPlugins(env);
    const config = validateServerConfig(raw, source, plugins);
    const listen =
      args.listen !== undefined ? parseListenAddress(args.listen, undefined, "--listen") : parseListenAddress(config.listen, source);
    const graceSeconds = shutdownSeconds(env);
    const graceMs = graceSeconds * 1000;
    // Read in every mode, so check-config reports a bad value; only serving modes use it.
    const servesHttp = mode === "monolithic" || mode === "api-server";
    const requestedWorkers = isWorker ? 1 : httpWorkerCount(env);
    const workerCount = servesHttp ? requestedWorkers : 1;

    if (mode === "check-config") {
      printError(`atticd: ${source}: the configuration is valid`);
      return EXIT_OK;
    }

    // Handle shutdown requests from here on: one that arrives while the engine starts (or
    // migrates) shuts it down cleanly once startup is done, instead of killing it mid-migration.
    trigger = (isWorker ? onPrimaryRequests : onShutdownSignals)(() => {
      logger.warn("second signal: aborting in-flight requests now");
      void host?.shutdown();
      workers?.abort();
    });
    void trigger.requested.then(() => gcAbort.abort());
    // A primary in api-server mode needs no engine of its own: its workers have theirs.
    if (!(workerCount > 1 && mode === "api-server")) {
      engine = await createEngine({
        config: raw,
        configSource: source,
        plugins,
        logger: coreLogger,
        // Like Attic, only these two modes migrate; the others expect a migrated database.
        // Workers are started in api-server mode, after their primary has migrated.
        migrate: mode === "monolithic" || mode === "db-migrations",
      });
    }
    if (mode === "db-migrations") {
      logger.info("database migrations applied");
      const stopping = engine!;
      engine = undefined;
      await stopping.stop();
      return EXIT_OK;
    }

    if (mode === "garbage-collector-once" || mode === "garbage-collector") {
      const gcInterval = engine!.config["garbage-collection"].interval;
      // runOnce logs the report; the periodic loop logs each run's.
      if (mode === "garbage-collector-once") await engine!.gc.runOnce({ signal: gcAbort.signal });
      else await engine!.gc.runPeriodically(gcInterval, gcAbort.signal);
      const stopping = engine!;
      engine = undefined;
      await stopping.stop();
      logger.info("stopped");
      return EXIT_OK;
    }

    if (mode === "monolithic") {
      // With HTTP workers, the primary collects and the workers (api-server mode) do not.
      const gcInterval = engine!.config["garbage-collection"].interval;
      if (gcInterval > 0) periodicGc = engine!.gc.runPeriodically(gcInterval, gcAbort.signal);
      else logger.info("periodic garbage collection is disabled (garbage-collection.interval = 0)");
    }
    if (workerCount > 1) {
      workers = await startHttpWorkers({ count: workerCount, args: workerArgs(args), logger: coreLogger, graceMs });
      logger.info({ workers: workers.pids() }, `Listening on ${workers.url} (${workerCount} worker processes)`);
    } else {
      const handler = createRequestHandler(engine!, { logger: coreLogger });
      host = await startHttpHost(handler, listen, { logger: coreLogger, graceMs });
      if (isWorker) process.send?.({ attic_ts: "ready", url: host.url } satisfies WorkerMessage);
      else logger.info(`Listening on ${host.url}`);
    }

    const outcome = await Promise.race([
      trigger.requested.then((signal) => ({ signal })),
      ...(workers ? [workers.failed.then((err) => ({ err }))] : []),
    ]);
    if ("err" in outcome) logger.error({ err: outcome.err }, "the HTTP workers failed: shutting down");
    else if (!isWorker) logger.info({ signal: outcome.signal, graceSeconds }, "shutting down: waiting for in-flight requests");
    gcAbort.abort();
    await host?.shutdown();
    await workers?.shutdown();
    await periodicGc;
    const stopping = engine;
    engine = undefined;
    await stopping?.stop();
    if (!isWorker) logger.info("stopped");
    return "err" in outcome ? EXIT_FAILURE : EXIT_OK;
  } catch (err) {
    gcAbort.abort();
    await host?.shutdown().catch(() => {});
    await workers?.shutdown();
    await periodicGc;
    await engine?.stop().catch((stopErr: unknown) => logger.error({ err: stopErr }, "engine stop failed"));
    return reportFailure("atticd", err);
  } finally {
    trigger?.remove();
  }
}

/** A worker's arguments: the primary's config and listen address, in api-server mode. */
function workerArgs(args: ReturnType<typeof parseCommandLine>): string[] {
  return [
    ...(args.config !== undefined ? ["-f", args.config] : []),
    ...(args.listen !== undefined ? ["-l", args.listen] : []),
    "--mode",
    "api-server",
  ];
}

function shutdownSeconds(env: Env): number {
  const text = env[SHUTDOWN_TIMEOUT_VARIABLE];
  if (!text) return DEFAULT_SHUTDOWN_SECONDS;
  try {
    return parseDurationSeconds(text);
  } catch (err) {
    throw new ConfigError(`expected a duration such as "30s": ${(err as Error).message}`, SHUTDOWN_TIMEOUT_VARIABLE);
  }
}
