import type { Layer } from "@koa/router";
import { describe, expect, it } from "vitest";
import type { Engine } from "@attic-ts/core";
import { noopLogger } from "@attic-ts/core";
import Koa from "koa";
import { matchNarInfoRequest, matchPlainNarInfoUrl } from "../src/http/narinfo-shortcut.ts";
import { buildRouter } from "../src/router.ts";

/**
 * The narinfo shortcut must take only requests the router itself would give to the narinfo
 * route, with the same parameters. The real route table answers which route @koa/router runs
 * first for each path (no handler is called: the engine is never touched).
 */
const router = buildRouter({
  engine: {} as Engine,
  logger: noopLogger,
  allowedHosts: [],
  apiEndpoint: undefined,
  substituterEndpoint: undefined,
  maxNarInfoSize: 1 << 20,
  prefix: "",
});

/** The route @koa/router runs for this request (the first matching one with methods), if any. */
function routerChoice(method: string, path: string): { route: string; params: Record<string, string> } | null {
  const layer = router.match(path, method).pathAndMethod.find((l: Layer) => l.methods.length > 0);
  if (!layer) return null;
  return { route: layer.path as string, params: layer.params(path, layer.captures(path), {}) as Record<string, string> };
}

const HASH = "0c9ix7v4dn1dpgkw2aq8wplq1xnbb1bz";

describe("narinfo shortcut", () => {
  it.each([
    ["GET", `/bench/${HASH}.narinfo`, { cache: "bench", path: `${HASH}.narinfo` }],
    ["HEAD", `/bench/${HASH}.narinfo`, { cache: "bench", path: `${HASH}.narinfo` }],
    ["GET", "/b%20c/x.narinfo", { cache: "b c", path: "x.narinfo" }],
    ["GET", "/b%ZZ/x.narinfo", { cache: "b%ZZ", path: "x.narinfo" }],
    ["GET", "/bench/a%2Fb.narinfo", { cache: "bench", path: "a/b.narinfo" }],
    ["GET", "/bench/%E2%82%AC.narinfo", { cache: "bench", path: "€.narinfo" }],
    ["GET", "/_api/x.narinfo", { cache: "_api", path: "x.narinfo" }],
    ["GET", "/bench/..narinfo", { cache: "bench", path: "..narinfo" }],
  ])("%s %s: taken, as the router routes it", (method, path, params) => {
    expect(matchNarInfoRequest(method, path)).toEqual(params);
    expect(routerChoice(method, path)).toEqual({ route: "/:cache/:path", params });
  });

  it.each([
    ["POST", `/bench/${HASH}.narinfo`],
    ["PUT", `/bench/${HASH}.narinfo`],
    ["GET", `/bench/${HASH}.narinfo/`],
    ["GET", `/bench//${HASH}.narinfo`],
    ["GET", `//${HASH}.narinfo`],
    ["GET", `/${HASH}.narinfo`],
    ["GET", `/bench/nar/${HASH}.narinfo`],
    ["GET", "/bench/.narinfo"],
    ["GET", `/bench/${HASH}.NARINFO`],
    ["GET", `/bench/${HASH}.narinfo.ls`],
    ["GET", `/bench/${HASH}.ls`],
    ["GET", "/bench/nix-cache-info"],
    ["GET", "/bench/attic-cache-info"],
    ["GET", "/_api/v1/cache-config/bench"],
    ["GET", "/"],
  ])("%s %s: left to the router", (method, path) => {
    expect(matchNarInfoRequest(method, path)).toBeNull();
  });

  it("every path it takes in a sweep of odd characters is the router's narinfo route with the same parameters", () => {
    const pieces = ["a", "%", "%2", "%2F", "%41", ".", "..", "narinfo", ".narinfo", "_", "-", "é", "%C3%A9", ":", "@"];
    let taken = 0;
    for (const first of pieces) {
      for (const second of pieces) {
        for (const third of pieces) {
          const path = `/${first}${second}/${third}${second}.narinfo`;
          const params = matchNarInfoRequest("GET", path);
          if (!params) continue;
          taken++;
          expect(routerChoice("GET", path)).toEqual({ route: "/:cache/:path", params });
        }
      }
    }
    expect(taken).toBe(pieces.length ** 3);
  });

  it("a plain request target (the fast lane's) has Koa's path unchanged and the router's parameters", () => {
    const app = new Koa();
    /** The path Koa's request gives the routes for this request target. */
    const koaPath = (url: string) => app.createContext({ url, headers: {}, socket: {} } as never, {} as never).path;
    const pieces = ["a", "%", "%41", ".", "..", "_", "-", "~", "+", "?", "?x=1", "#", " ", "\t", "é", ":", "@", ";", "=", "*"];
    let taken = 0;
    for (const first of pieces) {
      for (const second of pieces) {
        for (const third of pieces) {
          const url = `/${first}${second}/${third}${second}.narinfo`;
          const params = matchPlainNarInfoUrl(url);
          if (!params) continue;
          taken++;
          expect(koaPath(url)).toBe(url);
          expect(matchNarInfoRequest("GET", url)).toEqual(params);
          expect(routerChoice("GET", url)).toEqual({ route: "/:cache/:path", params });
        }
      }
    }
    // a . .. _ - ~ + make 7 ** 3 targets; nothing with %, ?, #, a space or tab, é, :, @, ;, = or * is taken.
    expect(taken).toBe(7 ** 3);
    expect(matchPlainNarInfoUrl(`/bench/${HASH}.narinfo`)).toEqual({ cache: "bench", path: `${HASH}.narinfo` });
  });
});
