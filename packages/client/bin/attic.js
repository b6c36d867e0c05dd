#!/usr/bin/env node
// Launcher for the compiled attic client (built by `tsc -b` into ../dist).
import { existsSync } from "node:fs";

const entry = new URL("../dist/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("attic: dist/main.js is missing: run `npm run build` first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
// SIGINT/SIGTERM stop watch-store gracefully (uploads in flight finish); a second signal kills.
const controller = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    controller.abort();
    process.once(sig, () => process.exit(130));
  });
}
const code = await main(process.argv.slice(2), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stderr.isTTY === true,
}, { signal: controller.signal });
process.exit(code);
