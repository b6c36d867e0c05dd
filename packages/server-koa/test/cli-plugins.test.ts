import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { ConfigError, definePlugin } from "@attic-ts/core";
import { builtinPlugins, loadExtraPlugins, mergePlugins } from "../src/plugins.ts";
import { REPO, atticdOnce, buildDist, sandbox, serverToml, startAtticd, writeConfig, type Sandbox } from "./cli-harness.ts";

/** A third-party storage plugin module: `type = "memory"`, with its own strict schema. */
function memoryPluginModule(): string {
  const core = pathToFileURL(join(REPO, "packages/core/dist/index.js")).href;
  const zod = pathToFileURL(join(REPO, "node_modules/zod/index.js")).href;
  return `import { BLOB_STORE, MemoryBlobStore, definePlugin } from ${JSON.stringify(core)};
import { z } from ${JSON.stringify(zod)};
export default [definePlugin({
  kind: "storage",
  type: "memory",
  configSchema: z.strictObject({ type: z.literal("memory"), label: z.string() }),
  register(container) { container.registerInstance(BLOB_STORE, new MemoryBlobStore()); },
})];
`;
}

const fakePlugin = (kind: "storage" | "chunker", type: string) =>
  definePlugin({ kind, type, configSchema: z.object({}), register() {} });

describe("third-party plugins from ATTIC_TS_PLUGINS", { timeout: 180_000 }, () => {
  let box: Sandbox;
  let pluginPath: string;

  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
    pluginPath = join(box.dir, "memory-plugin.mjs");
    await writeFile(pluginPath, memoryPluginModule());
  });
  afterAll(async () => box?.cleanup());

  it("loads a module's descriptors, by path, and rejects modules that export none", async () => {
    const loaded = await loadExtraPlugins({ ATTIC_TS_PLUGINS: ` ${pluginPath} , ` });
    expect(loaded.map((p) => `${p.kind}:${p.type}`)).toEqual(["storage:memory"]);
    expect(await loadExtraPlugins({})).toEqual([]);

    const bogus = join(box.dir, "bogus.mjs");
    await writeFile(bogus, "export default { hello: 1 };\n");
    await expect(loadExtraPlugins({ ATTIC_TS_PLUGINS: bogus })).rejects.toThrow(/must default-export a plugin descriptor/);
    await expect(loadExtraPlugins({ ATTIC_TS_PLUGINS: join(box.dir, "missing.mjs") })).rejects.toBeInstanceOf(ConfigError);
  });

  it("merges: an extra single-kind plugin replaces the builtin; storage types are added or replaced", () => {
    const extraChunker = fakePlugin("chunker", "other-cdc");
    const extraLocal = fakePlugin("storage", "local");
    const extraS3 = fakePlugin("storage", "s3");
    const merged = mergePlugins(builtinPlugins, [extraChunker, extraLocal, extraS3]);
    expect(merged.filter((p) => p.kind === "chunker")).toEqual([extraChunker]);
    expect(merged.filter((p) => p.kind === "storage")).toEqual([extraLocal, extraS3]);
    expect(merged.filter((p) => p.kind === "database").map((p) => p.type)).toEqual(["sqlite", "postgres"]);
  });

  it("atticd validates and serves with a storage type only the extra plugin provides", async () => {
    const text = serverToml(box.dir).replace(/type = "local"\npath = .*\n/, 'type = "memory"\nlabel = "test"\n');
    const configPath = await writeConfig(box.dir, text, "memory.toml");

    const without = await atticdOnce(["-f", configPath, "--mode", "check-config"], box.env);
    expect(without.code).toBe(78);
    expect(without.stderr).toContain('storage.type: expected one of "local"');

    const env = { ...box.env, ATTIC_TS_PLUGINS: pluginPath };
    const checked = await atticdOnce(["-f", configPath, "--mode", "check-config"], env);
    expect(checked.code, checked.stderr).toBe(0);

    // The plugin's own schema is applied too.
    const badLabel = await writeConfig(box.dir, text.replace('label = "test"', "label = 5"), "memory-bad.toml");
    const rejected = await atticdOnce(["-f", badLabel, "--mode", "check-config"], env);
    expect(rejected.code).toBe(78);
    expect(rejected.stderr).toContain("storage.label");

    const server = await startAtticd(["-f", configPath], env);
    try {
      expect((await fetch(`${server.url}/`)).status).toBe(200);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });
});
