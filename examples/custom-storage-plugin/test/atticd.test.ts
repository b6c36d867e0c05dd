// Runs the real atticd (bin/atticd.js, from dist) with `[storage] type = "flat-dir"`, loading
// this package by name through ATTIC_TS_PLUGINS, and pushes real NARs through it over HTTP.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CREATE_CACHE_BODY,
  atticadm,
  atticdOnce,
  bearer,
  buildDist,
  sandbox,
  serverToml,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
} from "../../../packages/server-koa/test/cli-harness.ts";
import { addFiles, dumpNar, uploadInfoFor } from "../../../test/helpers/nix.ts";
import { collect, pseudoRandomBytes } from "../../../test/helpers/data.ts";

const PLUGIN_PACKAGE = "@attic-ts/example-custom-storage-plugin";

interface Fixture {
  nar: Buffer;
  hash: string;
  info: Awaited<ReturnType<typeof uploadInfoFor>>;
}

async function fixture(name: string, files: Record<string, string | Uint8Array>): Promise<Fixture> {
  const path = await addFiles(name, files);
  const info = await uploadInfoFor("flat", path);
  return { nar: await collect(dumpNar(path)), hash: info.store_path_hash, info };
}

describe("atticd with the flat-dir plugin from ATTIC_TS_PLUGINS", { timeout: 300_000 }, () => {
  let box: Sandbox;
  let blobDir: string;
  let configPath: string;
  let server: RunningAtticd | undefined;
  let token: string;
  let small: Fixture;
  let large: Fixture;

  beforeAll(async () => {
    // atticd runs from dist, and imports this package through its "default" export (dist too).
    await buildDist();
    box = await sandbox();
    blobDir = join(box.dir, "flat-blobs");
    // No compression, so a NAR under the chunking threshold is stored byte for byte as one file.
    const text = serverToml(box.dir, { extra: '[compression]\ntype = "none"\n' }).replace(
      /type = "local"\npath = .*\n/,
      `type = "flat-dir"\npath = ${JSON.stringify(blobDir)}\n`,
    );
    expect(text).toContain('type = "flat-dir"');
    configPath = await writeConfig(box.dir, text);
    small = await fixture("flat-dir-small", { "hello.txt": "hello from the flat-dir plugin\n" });
    large = await fixture("flat-dir-large", { "blob.bin": pseudoRandomBytes(4242, 700_000) });
  });

  afterAll(async () => {
    if (server) await server.stop();
    await box?.cleanup();
  });

  it("refuses the config without the plugin, accepts it with the plugin", async () => {
    const without = await atticdOnce(["-f", configPath, "--mode", "check-config"], box.env);
    expect(without.code).toBe(78);
    expect(without.stderr).toContain("storage.type");
    const withPlugin = await atticdOnce(["-f", configPath, "--mode", "check-config"], { ...box.env, ATTIC_TS_PLUGINS: PLUGIN_PACKAGE });
    expect(withPlugin.code, withPlugin.stderr).toBe(0);
  });

  it("stores pushed NARs as files in the plugin's directory and serves them back", async () => {
    const env = { ...box.env, ATTIC_TS_PLUGINS: PLUGIN_PACKAGE };
    const minted = await atticadm(
      ["-f", configPath, "make-token", "--sub", "plugin-test", "--validity", "1 hour", "--pull", "flat", "--push", "flat", "--create-cache", "flat"],
      env,
    );
    expect(minted.code, minted.stderr).toBe(0);
    token = minted.stdout.trim();

    server = await startAtticd(["-f", configPath], env);
    expect(server.stderr()).toContain("flat-dir storage ready");
    const created = await fetch(`${server.url}/_api/v1/cache-config/flat`, {
      method: "POST",
      headers: { ...bearer(token), "Content-Type": "application/json" },
      body: CREATE_CACHE_BODY,
    });
    expect(created.status, await created.clone().text()).toBe(200);

    for (const f of [small, large]) {
      const up = await fetch(`${server.url}/_api/v1/upload-path`, {
        method: "PUT",
        headers: { ...bearer(token), "X-Attic-Nar-Info": JSON.stringify(f.info) },
        body: f.nar,
      });
      expect(up.status, await up.clone().text()).toBe(200);
      expect(((await up.json()) as { kind: string }).kind).toBe("Uploaded");
    }

    // Read back over HTTP: the narinfo points at a NAR equal to what `nix-store --dump` gave.
    for (const f of [small, large]) {
      const narinfo = await fetch(`${server.url}/flat/${f.hash}.narinfo`, { headers: bearer(token) });
      expect(narinfo.status).toBe(200);
      const text = await narinfo.text();
      expect(text).toContain("Compression: none");
      const url = /^URL: (.+)$/m.exec(text)?.[1];
      expect(url).toBeDefined();
      const nar = await fetch(`${server.url}/flat/${url}`, { headers: bearer(token) });
      expect(nar.status).toBe(200);
      expect(Buffer.from(await nar.arrayBuffer()).equals(f.nar)).toBe(true);
    }

    // The blobs are plain files directly in the plugin's directory: nothing else, no shards.
    const entries = await readdir(blobDir, { withFileTypes: true });
    expect(entries.every((e) => e.isFile() && /^[0-9a-z-]+\.chunk$/.test(e.name))).toBe(true);
    // The large NAR is cut into several chunks; the small one is one whole file.
    expect(entries.length).toBeGreaterThanOrEqual(3);
    const contents = await Promise.all(entries.map((e) => readFile(join(blobDir, e.name))));
    expect(contents.some((c) => c.equals(small.nar))).toBe(true);
    const total = contents.reduce((sum, c) => sum + c.length, 0);
    expect(total).toBe(small.nar.length + large.nar.length);
    // The builtin local backend was never used.
    expect(await readdir(box.dir)).not.toContain("storage");

    const stopped = await server.stop();
    server = undefined;
    expect(stopped.code).toBe(0);
  });
});
