#!/usr/bin/env node
// Launcher for the compiled atticadm (built by `tsc -b` into ../dist).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/atticadm.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("atticadm: dist/cli/atticadm.js is missing: run `npm run build` first\n");
  process.exit(1);
}
const { runAtticadm } = await import(entry.href);
process.exit(await runAtticadm(process.argv.slice(2)));
