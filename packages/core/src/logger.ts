/** A pino-compatible subset, so the host can bind pino and libraries stay dependency-free. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /**
   * Whether a message at `level` would be written (pino's method). Optional: without it every
   * level counts as enabled. Hot paths use it to skip building what a disabled level drops.
   */
  isLevelEnabled?(level: LogLevel): boolean;
}

/** The levels of {@link Logger}'s methods. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Whether `logger` would write a message at `level`; true when it cannot tell. */
export function isLevelEnabled(logger: Logger, level: LogLevel): boolean {
  return logger.isLevelEnabled?.(level) ?? true;
}

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
  isLevelEnabled() {
    return false;
  },
};
