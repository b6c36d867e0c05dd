// atticd's runtime settings as the shebang of packages/server-koa/bin/atticd.js names them
// (`#!/usr/bin/env -S VAR=value node FLAGS`). Read by the benchmarks, which start atticd the way
// a deployment does, and by the test that holds npm start and the Nix wrapper to the same list.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ATTICD_LAUNCHER = fileURLToPath(new URL("../packages/server-koa/bin/atticd.js", import.meta.url));

/**
 * The `NAME=value` words among `words`, as an environment (a value may contain `=`).
 * @param {readonly string[]} words
 * @returns {Record<string, string>}
 */
export function envOf(words) {
  const assignments = words.filter((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  return Object.fromEntries(assignments.map((w) => [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]));
}

/**
 * The shebang line, its environment and its node flags; throws when the line is not an
 * `env -S ... node ...` line.
 * @returns {{ line: string; env: Record<string, string>; flags: string[] }}
 */
export function readAtticdShebang() {
  const line = readFileSync(ATTICD_LAUNCHER, "utf8").split("\n", 1)[0] ?? "";
  const words = line.trim().split(/\s+/);
  const node = words.indexOf("node");
  if (!line.startsWith("#!/usr/bin/env -S ") || node < 0) throw new Error(`${ATTICD_LAUNCHER}: unexpected #! line: ${line}`);
  return { line, env: envOf(words.slice(0, node)), flags: words.slice(node + 1) };
}
