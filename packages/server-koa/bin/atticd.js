#!/usr/bin/env node
// Launcher for the compiled atticd (built by `tsc -b` into ../dist).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/atticd.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("atticd: dist/cli/atticd.js is missing: run `npm run build` first\n");
  process.exit(1);
}
const { runAtticd } = await import(entry.href);
process.exit(await runAtticd(process.argv.slice(2)));
