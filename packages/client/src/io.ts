import type { Readable, Writable } from "node:stream";

/**
 * Where a command reads and writes. `bin/attic.js` passes the process streams; tests pass
 * in-memory streams, so `main` can run in-process or as a real process alike.
 */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** True when stderr is a terminal: progress bars are drawn only then (plain lines otherwise). */
  isTTY: boolean;
}

/** Writes one line (a newline is appended) to `stream`. */
export function writeLine(stream: Writable, line = ""): void {
  stream.write(`${line}\n`);
}
