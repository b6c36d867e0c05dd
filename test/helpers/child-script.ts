import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Runs a TypeScript file in a fresh Node process (through tsx, from the repository root) and
 * answers its exit code and standard output; rejects when it has not exited after `timeoutMs`.
 * For checking what keeps a process alive: a child that should exit on its own must.
 */
export function runScript(script: string, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: REPO });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`child did not exit: ${stdout}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}
