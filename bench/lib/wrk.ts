/**
 * Runs `wrk --latency` with a Lua script that requests a random path from a list per request,
 * and parses requests/s, p50/p99 latency and the count of non-2xx/3xx responses.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface WrkResult {
  rps: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** The Lua script: every wrk thread loads the path list and picks one at random per request. */
export async function writePathScript(dir: string, name: string, paths: string[]): Promise<string> {
  const list = join(dir, `${name}.txt`);
  await writeFile(list, paths.join("\n") + "\n");
  const lua = join(dir, `${name}.lua`);
  await writeFile(
    lua,
    `local paths = {}
for line in io.lines(${JSON.stringify(list)}) do paths[#paths + 1] = line end
local n = #paths
request = function()
  return wrk.format("GET", paths[math.random(n)])
end
`,
  );
  return lua;
}

/**
 * A Lua script whose every request asks for `<prefix><a fresh random store path hash><suffix>`:
 * a path no earlier request named, so no server can answer it from a cache of recent answers.
 */
export async function writeRandomHashScript(dir: string, name: string, prefix: string, suffix: string): Promise<string> {
  const lua = join(dir, `${name}.lua`);
  await writeFile(
    lua,
    `local alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
math.randomseed(os.time())
request = function()
  local chars = {}
  for i = 1, 32 do
    local k = math.random(32)
    chars[i] = alphabet:sub(k, k)
  end
  return wrk.format("GET", ${JSON.stringify(prefix)} .. table.concat(chars) .. ${JSON.stringify(suffix)})
end
`,
  );
  return lua;
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  return unit === "us" ? v / 1000 : unit === "ms" ? v : unit === "s" ? v * 1000 : unit === "m" ? v * 60_000 : NaN;
}

export async function runWrk(url: string, script: string, options: { threads: number; connections: number; seconds: number }): Promise<WrkResult> {
  const args = ["-t", String(options.threads), "-c", String(options.connections), "-d", `${options.seconds}s`, "--latency", "-s", script, url];
  const { stdout } = await run("wrk", args, { maxBuffer: 1 << 20 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(stdout);
  const requests = /(\d+) requests in/.exec(stdout);
  if (!rps || !p50 || !p99 || !requests) throw new Error(`cannot parse wrk output:\n${stdout}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    rps: Number(rps[1]),
    p50: toMs(p50[1]!, p50[2]!),
    p99: toMs(p99[1]!, p99[2]!),
    requests: Number(requests[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: errors ? errors.slice(1).reduce((a, x) => a + Number(x), 0) : 0,
  };
}
