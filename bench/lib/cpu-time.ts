// CPU time of benchmark processes, from /proc (Linux): where a transfer's time goes, per side.
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Clock ticks per second of /proc's utime and stime; 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/** `pid` and its child processes (atticd's HTTP workers, nginx's workers), from /proc. */
export async function processFamily(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, "utf8").catch(() => "");
    if (new RegExp(`^PPid:\\s+${pid}$`, "m").test(status)) children.push(Number(entry));
  }
  return [pid, ...children];
}

/** User + system CPU of `pid` and its children so far (all their threads), ms. */
export async function familyCpuMs(pid: number): Promise<number> {
  let ticks = 0;
  for (const member of await processFamily(pid)) {
    const stat = await readFile(`/proc/${member}/stat`, "utf8").catch(() => "");
    // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export interface CurlResult {
  /** MB/s */
  speed: number;
  bytes: number;
  /** curl's own user + system CPU, ms. */
  cpuMs: number;
}

/** GETs `url` into `out` with curl; its speed, and its CPU as bash's `times` reports it. */
export async function curlWithCpu(url: string, out = "/dev/null"): Promise<CurlResult> {
  const script = 'curl -sS --fail -o "$2" -w "%{size_download} %{time_total}\\n" "$1" || exit 1; times';
  const { stdout } = await run("bash", ["-c", script, "curl", url, out]);
  const [first, , children] = stdout.trim().split("\n");
  const [bytes, seconds] = first!.split(" ").map(Number);
  const times = [...children!.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000);
  return { speed: bytes! / 1e6 / seconds!, bytes: bytes!, cpuMs: (times[0] ?? 0) + (times[1] ?? 0) };
}
