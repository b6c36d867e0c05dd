// Starts bench/lib/node-static.mjs (Node's best case for serving a file through user space) as
// a child process, like nginx in nginx.ts.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./node-static.mjs", import.meta.url));

export interface NodeStatic {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Serves `root` on a free loopback port; resolves once it listens. */
export async function startNodeStatic(root: string): Promise<NodeStatic> {
  const child = spawn(process.execPath, [SCRIPT, root], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node-static did not listen within 10 s: ${stderr}`)), 10_000);
    child.stdout.once("data", (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
    child.once("exit", (code) => reject(new Error(`node-static exited with ${code}: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
