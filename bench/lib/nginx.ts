/**
 * nginx as the static-file baseline: serves `root` on a free loopback port with `sendfile`, no
 * access log, `worker_processes auto` (a stock deployment), in the foreground as a child process.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { freePort } from "../../test/setup/free-port.ts";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

const NGINX = process.env.BENCH_NGINX ?? "/usr/sbin/nginx";

export interface BenchNginx {
  url: string;
  /** The master process; its workers are its children. */
  pid: number;
  stop(): Promise<void>;
}

/** Starts nginx serving `root`; `defaultType` is the Content-Type of every file. */
export async function startNginx(root: string, defaultType = "application/octet-stream"): Promise<BenchNginx> {
  const dir = await mkdtemp(join(tmpdir(), "attic-ts-nginx-"));
  const port = await freePort();
  // As root, workers would drop to `nobody`, who cannot read a mkdtemp (0700) directory.
  const user = userInfo().uid === 0 ? "user root;" : "";
  const conf = `
${user}
daemon off;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type ${defaultType};
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`;
  await writeFile(join(dir, "nginx.conf"), conf);
  const child = spawn(NGINX, ["-c", join(dir, "nginx.conf"), "-p", dir, "-e", join(dir, "error.log")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  child.on("error", (err) => (stderr += String(err)));
  const url = `http://127.0.0.1:${port}`;
  // Wait until it answers.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      if (i > 100) throw new Error(`nginx did not answer on ${url}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill("SIGQUIT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
