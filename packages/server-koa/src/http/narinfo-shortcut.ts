/**
 * Why narinfo requests skip @koa/router: they are most of a binary cache's traffic, and the
 * router's dispatch is costly per request: it tests every route's regular expression and builds
 * the match lists, a middleware chain and its composition. A bare Koa stack with our middleware
 * answered 30.9k req/s, the same stack with the router 17.2k; in atticd, skipping it served
 * about 10 % more narinfo hits (BENCHMARKS.md, eleventh pass).
 *
 * Only a path the router could send nowhere but `/{cache}/{path}` is taken here: exactly two
 * non-empty segments, the second ending in `.narinfo`. No other route has two segments whose
 * second can end that way (`nix-cache-info` and `attic-cache-info` are fixed names; NARs and
 * the API have three or more segments), so the route is the router's own choice, and the
 * parameters are decoded as the router decodes them. Everything else goes through the router.
 */
const NARINFO_PATH = /^\/([^/]+)\/([^/]+\.narinfo)$/;

/** The router's decoding: `decodeURIComponent`, or the text unchanged when it is malformed. */
function decodeParam(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `{ cache, path }` for a GET or HEAD of `/{cache}/{hash}.narinfo`, else null. */
export function matchNarInfoRequest(method: string, path: string): { cache: string; path: string } | null {
  if (method !== "GET" && method !== "HEAD") return null;
  const match = NARINFO_PATH.exec(path);
  if (!match) return null;
  return { cache: decodeParam(match[1]!), path: decodeParam(match[2]!) };
}

/**
 * A request target of `/{cache}/{x}.narinfo` in characters that need no decoding and that
 * Koa's URL parsing passes through unchanged (no `%`, query, fragment or space), with the
 * parameters the router would give it (the raw text). Null for anything else.
 */
const PLAIN_NARINFO_URL = /^\/([\w.~+-]+)\/([\w.~+-]+\.narinfo)$/;

export function matchPlainNarInfoUrl(url: string): { cache: string; path: string } | null {
  const match = PLAIN_NARINFO_URL.exec(url);
  return match ? { cache: match[1]!, path: match[2]! } : null;
}
