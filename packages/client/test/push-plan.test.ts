import { describe, expect, it } from "vitest";
import type { PathInfo } from "../src/nix/nix-cli.ts";
import { planPush, signedByUpstream } from "../src/push/push-plan.ts";
import { toUploadInfo } from "../src/push/upload-info.ts";

const p = (c: string, name: string) => `/nix/store/${c.repeat(32)}-${name}`;
const A = p("a", "top");
const B = p("b", "dep");
const C = p("c", "glibc");
const infos: Record<string, PathInfo> = {
  [A]: { path: A, narHash: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", narSize: 10, references: [A, B, C], deriver: "/nix/store/x.drv", signatures: ["mine-1:sig"] },
  [B]: { path: B, narHash: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", narSize: 20, references: [], ca: "fixed:r:sha256:abc" },
  [C]: { path: C, narHash: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", narSize: 30, references: [], signatures: ["cache.nixos.org-1:xyz"] },
};

function sources(missing: string[]) {
  const calls: { pathInfo: Array<[string[], boolean]>; missing: string[][] } = { pathInfo: [], missing: [] };
  return {
    calls,
    sources: {
      pathInfo: async (roots: string[], recursive: boolean) => {
        calls.pathInfo.push([roots, recursive]);
        return recursive ? [infos[A]!, infos[B]!, infos[C]!] : roots.map((r) => infos[r]!);
      },
      getMissingPaths: async (hashes: string[]) => {
        calls.missing.push(hashes);
        return hashes.filter((h) => missing.includes(h));
      },
    },
  };
}

const opts = { noClosure: false, ignoreUpstreamCacheFilter: false, upstreamCacheKeyNames: ["cache.nixos.org-1"] };

describe("push plan", () => {
  it("takes the closure, skips upstream-signed paths, and keeps only missing ones", async () => {
    const s = sources(["a".repeat(32)]);
    const plan = await planPush([A], s.sources, opts);
    expect(s.calls.pathInfo).toEqual([[[A], true]]);
    expect(s.calls.missing).toEqual([["a".repeat(32), "b".repeat(32)]]); // C never asked about
    expect([...plan.paths.values()].map((i) => i.path)).toEqual([A]);
    expect(plan).toMatchObject({ numAll: 3, numAlreadyCached: 1, numUpstream: 1 });
  });

  it("--no-closure plans the given paths only; --ignore-upstream-cache-filter keeps signed ones", async () => {
    const s = sources(["a".repeat(32), "c".repeat(32)]);
    const plan = await planPush([A, C], s.sources, { ...opts, noClosure: true, ignoreUpstreamCacheFilter: true });
    expect(s.calls.pathInfo).toEqual([[[A, C], false]]);
    expect([...plan.paths.keys()]).toEqual(["a".repeat(32), "c".repeat(32)]);
    expect(plan).toMatchObject({ numAll: 2, numAlreadyCached: 0, numUpstream: 0 });
  });

  it("does not ask the server when everything is upstream", async () => {
    const s = sources([]);
    const plan = await planPush([C], s.sources, { ...opts, noClosure: true });
    expect(s.calls.missing).toEqual([]);
    expect(plan).toMatchObject({ numAll: 1, numUpstream: 1, numAlreadyCached: 0 });
  });

  it("matches upstream signatures by key name only", () => {
    expect(signedByUpstream(["cache.nixos.org-1:abc"], ["cache.nixos.org-1"])).toBe(true);
    expect(signedByUpstream(["cache.nixos.org-2:abc", "nocolon"], ["cache.nixos.org-1"])).toBe(false);
    expect(signedByUpstream(undefined, ["x"])).toBe(false);
  });

  it("builds Attic's upload info: base-name references, typed hex hash, null system/deriver", () => {
    expect(toUploadInfo("main", infos[A]!)).toEqual({
      cache: "main",
      store_path_hash: "a".repeat(32),
      store_path: A,
      references: [`${"a".repeat(32)}-top`, `${"b".repeat(32)}-dep`, `${"c".repeat(32)}-glibc`],
      system: null,
      deriver: null,
      sigs: ["mine-1:sig"],
      ca: null,
      nar_hash: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      nar_size: 10,
    });
    expect(toUploadInfo("main", infos[B]!)).toMatchObject({ ca: "fixed:r:sha256:abc", sigs: [] });
  });
});
