import { readFileSync } from "node:fs";
import { isAtticError } from "@attic-ts/core";

/** sysexits.h codes, as the CLIs use them. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** A command-line usage error (clap exits with 2 too). */
export const EXIT_USAGE = 2;
/** EX_CONFIG: the configuration is invalid. */
export const EXIT_CONFIG = 78;

/** Writes a line to stderr; the CLIs' human-readable output goes there, as Attic's does. */
export function printError(line: string): void {
  process.stderr.write(line.endsWith("\n") ? line : `${line}\n`);
}

/** This package's version, read from its package.json (two levels above `src/cli` and `dist/cli`). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Prints a failure without a stack trace and returns the exit code: 78 for a configuration
 * error (the message names the file or variable, the key and what was expected), else 1.
 */
export function reportFailure(program: string, err: unknown): number {
  if (isAtticError(err) && err.code === "ConfigError") {
    printError(`${program}: configuration error: ${err.message}`);
    return EXIT_CONFIG;
  }
  const message = err instanceof Error ? err.message : String(err);
  printError(`${program}: error: ${message}`);
  if (isAtticError(err) || !(err instanceof Error)) return EXIT_FAILURE;
  // Unexpected errors keep their cause chain (not the stack) for a bug report.
  let cause = (err as Error).cause;
  while (cause instanceof Error) {
    printError(`  caused by: ${cause.message}`);
    cause = cause.cause;
  }
  return EXIT_FAILURE;
}
