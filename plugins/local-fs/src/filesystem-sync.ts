import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createInterface } from "node:readline";
import type { Socket } from "node:net";
import type { Writable } from "node:stream";
import { StorageError, untilAborted } from "@attic-ts/core";

/**
 * Filesystem flushes start at least this far apart (ms), so their fixed cost (a `sync` process:
 * 1-7 ms of CPU on the project's VM) stays a small share of a core on storage that flushes at
 * once. It is also the most a chunked upload's commit waits beyond the flush itself.
 * ATTIC_TS_FLUSH_INTERVAL_MS overrides it (for measurements).
 */
const DEFAULT_FLUSH_INTERVAL_MS = 25;

export function flushIntervalMs(): number {
  const raw = process.env.ATTIC_TS_FLUSH_INTERVAL_MS;
  const value = raw === undefined || raw === "" ? DEFAULT_FLUSH_INTERVAL_MS : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new StorageError(`ATTIC_TS_FLUSH_INTERVAL_MS must be a number of milliseconds, not ${JSON.stringify(raw)}.`);
  return value;
}

/** How long the probe may take before syncfs counts as unavailable (ms). */
const PROBE_TIMEOUT_MS = 60_000;

/**
 * The helper's loop: for each directory read from stdin, `sync -f` it and answer one line,
 * its exit status and what it printed (newlines flattened).
 */
const HELPER_SCRIPT = `while IFS= read -r dir; do
  out=$("$0" -f "$dir" 2>&1); status=$?
  printf '%s %s\\n' "$status" "$(printf '%s' "$out" | tr '\\n' ' ')"
done`;

/** Its stdout is a pipe, a `net.Socket`, which can be unref'd. */
type Helper = ChildProcessByStdio<Writable, Socket, null>;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Flushes the whole filesystem holding a directory, with syncfs(2): every file written there
 * becomes durable in one flush of the device's cache, where an fsync per file costs a flush (and
 * on ext4 a journal commit) each. Node has no binding for syncfs, so this runs coreutils'
 * `sync -f DIR`, which is that call (coreutils 8.24 and later; busybox's `sync` has `-f` too).
 *
 * Through one resident `sh` that runs `sync` per request: Node forks its whole process for a
 * spawn, on the main thread, and with a large heap that cost 3 ms or more a flush, more than the
 * fsyncs it replaces. The shell is small, so its forks are cheap. It is started on the first
 * flush, holds the event loop open only while a flush is pending, and is restarted if it dies.
 */
export class FilesystemSync {
  #helper: Helper | undefined;
  readonly #waiters: Waiter[] = [];
  #closed = false;

  constructor(
    private readonly dir: string,
    /** The `sync` program; tests substitute failing ones. */
    private readonly command = "sync",
  ) {}

  /** Whether a flush works here: runs one. False where `sync -f` is missing, refused or hangs. */
  async probe(): Promise<boolean> {
    try {
      await untilAborted(this.flush(), AbortSignal.timeout(PROBE_TIMEOUT_MS));
      return true;
    } catch {
      this.close();
      return false;
    }
  }

  /** Flushes the filesystem; rejects with what `sync` said when it fails. Flushes run in order. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("the filesystem sync helper was closed"));
        return;
      }
      let helper: Helper;
      try {
        helper = this.#helper ?? this.#start();
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.#waiters.push({ resolve, reject });
      this.#holdLoop(true);
      helper.stdin.write(`${this.dir}\n`);
    });
  }

  /** Stops the helper; flushes still pending, and any asked for later, fail. */
  close(): void {
    this.#closed = true;
    const helper = this.#helper;
    this.#helper = undefined;
    if (helper === undefined) return;
    helper.stdin.end();
    this.#failAll(helper, new Error("the filesystem sync helper was closed"));
  }

  #start(): Helper {
    if (this.dir.includes("\n")) throw new Error(`cannot flush a directory whose name holds a newline: ${JSON.stringify(this.dir)}`);
    const helper = spawn("sh", ["-c", HELPER_SCRIPT, this.command], { stdio: ["pipe", "pipe", "ignore"] }) as unknown as Helper;
    this.#helper = helper;
    // A broken pipe after the helper died is reported by "close" below.
    helper.stdin.on("error", () => undefined);
    helper.on("error", (err) => this.#failAll(helper, err));
    helper.on("close", (code, signal) => this.#failAll(helper, new Error(`the filesystem sync helper exited (${signal ?? `code ${code}`})`)));
    createInterface({ input: helper.stdout }).on("line", (line) => {
      const waiter = this.#waiters.shift();
      if (this.#waiters.length === 0) this.#holdLoop(false);
      if (waiter === undefined) return;
      const space = line.indexOf(" ");
      const status = line.slice(0, space < 0 ? undefined : space);
      const said = space < 0 ? "" : line.slice(space + 1).trim();
      if (status === "0") waiter.resolve();
      else waiter.reject(new Error(`${this.command} -f ${this.dir} exited with status ${status}${said ? `: ${said}` : ""}`));
    });
    return helper;
  }

  /** Fails the pending flushes of `helper` (if it is still the current one, it is forgotten). */
  #failAll(helper: Helper, err: Error): void {
    if (this.#helper === helper) this.#helper = undefined;
    if (this.#helper !== undefined) return; // a newer helper's waiters are not this one's
    for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
  }

  /** An idle helper must not keep the process alive; one with a flush pending must. */
  #holdLoop(hold: boolean): void {
    const helper = this.#helper;
    if (helper === undefined) return;
    if (hold) {
      helper.ref();
      helper.stdout.ref();
    } else {
      helper.unref();
      helper.stdout.unref();
    }
  }
}
