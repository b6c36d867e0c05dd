#!/usr/bin/env node
// Launcher for the compiled atticd (built by `tsc -b` into ../dist).
import { existsSync } from "node:fs";
import { setFlagsFromString } from "node:v8";

// V8 lets the young generation grow to 2 x 16 MiB (+ headroom) under a high allocation rate,
// which an upload has (every body slice and chunk is a fresh buffer). Capping each semi-space
// at 4 MiB took 30 MiB off the peak RSS of a 1 GiB upload for more, cheaper scavenges
// (BENCHMARKS.md). An explicit --max-semi-space-size in NODE_OPTIONS or on the command line wins.
const SEMI_SPACE_FLAG = "--max-semi-space-size";
if (![...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((arg) => arg.startsWith(SEMI_SPACE_FLAG))) {
  setFlagsFromString(`${SEMI_SPACE_FLAG}=4`);
}

const entry = new URL("../dist/cli/atticd.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("atticd: dist/cli/atticd.js is missing: run `npm run build` first\n");
  process.exit(1);
}
const { runAtticd } = await import(entry.href);
process.exit(await runAtticd(process.argv.slice(2)));
