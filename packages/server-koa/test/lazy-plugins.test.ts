import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BLOB_STORE, createRootContainer, Lifecycle, noopLogger, type EngineConfig } from "@attic-ts/core";
import { builtinPlugins } from "../src/plugins.ts";

const repo = fileURLToPath(new URL("../../..", import.meta.url));

/** Counts the AWS SDK modules a fresh Node process has loaded after running `code`. */
function awsModulesAfter(code: string): number {
  const script = `${code}
const { createRequire } = await import("node:module");
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("@aws-sdk"));
console.log(loaded.length);`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: repo, encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) throw new Error(result.stderr);
  return Number(result.stdout.trim());
}

describe("builtin plugins load their heavy dependencies only when selected", () => {
  it("importing the server (and its builtin plugin list) loads no AWS SDK module", () => {
    // The built package, as atticd runs it: the SDK is ~20 MiB of heap a local-storage server never needs.
    expect(awsModulesAfter(`await import("@attic-ts/server-koa");`)).toBe(0);
    // The check can fail: importing the S3 package's main entry does load the SDK.
    expect(awsModulesAfter(`await import("@attic-ts/storage-s3");`)).toBeGreaterThan(0);
  });

  it("the s3 plugin binds its store once registered (its register is async)", async () => {
    const s3 = builtinPlugins.find((p) => p.kind === "storage" && p.type === "s3")!;
    const container = createRootContainer();
    const lifecycle = new Lifecycle();
    const config = s3.configSchema.parse({ type: "s3", region: "us-east-1", bucket: "b", endpoint: "http://127.0.0.1:1" });
    await s3.register(container, config, { logger: noopLogger, lifecycle, engineConfig: {} as EngineConfig });
    expect((container.resolve(BLOB_STORE) as { type: string }).type).toBe("s3");
    await lifecycle.stop();
  });
});
