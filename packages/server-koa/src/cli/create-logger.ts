import { pino, type Logger as PinoLogger } from "pino";
import type { Logger } from "@attic-ts/core";
import type { Env } from "../config/xdg-paths.ts";

const LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number] | "silent";

function toLevel(word: string): Level | undefined {
  const w = word.trim().toLowerCase();
  if (w === "off") return "silent";
  return (LEVELS as readonly string[]).includes(w) ? (w as Level) : undefined;
}

/**
 * The log level from `ATTIC_LOG`, else `RUST_LOG` (a tracing EnvFilter such as
 * `info,attic_server=debug`): a bare level wins; otherwise the most verbose per-target level
 * (every target is ours). Unknown text falls back to `info`.
 */
export function logLevelFromEnv(env: Env): Level {
  const text = env.ATTIC_LOG || env.RUST_LOG;
  if (!text) return "info";
  const directives = text.split(",").filter((d) => d.trim() !== "");
  for (const d of directives) {
    const level = d.includes("=") ? undefined : toLevel(d);
    if (level) return level;
  }
  const targeted = directives.map((d) => toLevel(d.split("=")[1] ?? "")).filter((l): l is Level => l !== undefined);
  const verbose = LEVELS.find((l) => targeted.includes(l));
  return verbose ?? (targeted.includes("silent") ? "silent" : "info");
}

/**
 * A pino logger writing JSON lines to stderr synchronously, so nothing is lost when the
 * process exits right after logging.
 */
export function createCliLogger(env: Env, name: string): PinoLogger {
  return pino({ name, level: logLevelFromEnv(env) }, pino.destination({ fd: 2, sync: true }));
}

/** pino's logger satisfies core's Logger as it is; this view only makes the check explicit. */
export function asCoreLogger(logger: PinoLogger): Logger {
  return logger;
}
