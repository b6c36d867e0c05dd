import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { NixCli } from "../src/nix/nix-cli.ts";

/** Real Nix (Debian's 2.8 here): no substituters, so nothing is fetched. */
const env = { ...process.env, NIX_CONFIG: "substituters =\n" };
const nix = new NixCli(env);
let path: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "attic-client-nix-"));
  const src = join(dir, `nixcli-${randomBytes(4).toString("hex")}`);
  await mkdir(join(src, "sub"), { recursive: true });
  await writeFile(join(src, "sub", "file"), "content\n");
  path = execFileSync("nix-store", ["--add", src], { env, encoding: "utf8", timeout: 60_000 }).trim();
});

describe("Nix through its CLI", () => {
  it("reads path info (SRI hash, size, references) without nix-command in the config", async () => {
    const [info] = await nix.pathInfo([path], false);
    expect(info!.path).toBe(path);
    expect(info!.narHash).toMatch(/^sha256[-:]/);
    expect(info!.narSize).toBeGreaterThan(0);
    expect(info!.references).toEqual([]);
    expect((await nix.pathInfo([path], true)).map((i) => i.path)).toEqual([path]);
    expect(await nix.pathInfo([], true)).toEqual([]);
  });

  it("streams exactly what nix-store --dump prints", async () => {
    const expected = execFileSync("nix-store", ["--dump", path], { env, timeout: 60_000 });
    const chunks: Uint8Array[] = [];
    for await (const c of nix.dumpNar(path)) chunks.push(c);
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
  });

  it("fails the stream instead of ending it when the dump fails", async () => {
    const bogus = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing";
    await expect(async () => {
      for await (const _ of nix.dumpNar(bogus)) void _;
    }).rejects.toThrow(/nix-store --dump .* failed/);
  });

  it("follows symlinks into the store and cuts paths inside store objects", async () => {
    const link = join(dir, "result");
    await symlink(join(path, "sub"), link);
    expect(await nix.followStorePath(link)).toBe(path);
    expect(await nix.followStorePath(join(path, "sub", "file"))).toBe(path);
    await expect(nix.followStorePath(dir)).rejects.toThrow(/is not in the Nix store/);
  });

  it("filters invalid paths and reports path-info failures", async () => {
    const bogus = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing";
    expect(await nix.validPaths([bogus, path])).toEqual([path]);
    await expect(nix.pathInfo([bogus], false)).rejects.toThrow(`path '${bogus}' is not valid`);
    await expect(nix.pathInfo([bogus, path], true)).rejects.toThrow(/is not valid/);
  });

  it("takes the store directory from NIX_STORE_DIR", () => {
    expect(new NixCli({}).storeDir).toBe("/nix/store");
    expect(new NixCli({ NIX_STORE_DIR: "/gnu/store/" }).storeDir).toBe("/gnu/store");
  });
});
