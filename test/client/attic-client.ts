/**
 * Runs the attic-ts client (`packages/client/bin/attic.js`, built by `tsc -b`) as a real child
 * process, with optional stdin, or keeps it running (watch-store).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { REPO, type RunResult } from "../../packages/server-koa/test/cli-harness.ts";

export const ATTIC = join(REPO, "packages/client/bin/attic.js");

export function attic(args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ATTIC, ...args], { env, cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A long-running client process (watch-store) and its output so far. */
export interface RunningAttic {
  child: ChildProcess;
  stderr(): string;
  /** Resolves when stderr matches `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startAttic(args: string[], env: NodeJS.ProcessEnv): RunningAttic {
  const child = spawn(process.execPath, [ATTIC, ...args], { env, cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return {
    child,
    stderr: () => stderr,
    waitFor(re, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(stderr)) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${re} in:\n${stderr}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (!re.test(stderr)) reject(new Error(`attic exited before printing ${re}:\n${stderr}`));
        });
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
