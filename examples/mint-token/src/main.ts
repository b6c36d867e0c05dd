// Mints an Attic token from Node with the server's HS256 secret, then uses it. Usage:
//   ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64=<the server's token-hs256-secret-base64> \
//     npx tsx --tsconfig tsconfig.base.json --conditions=source examples/mint-token/src/main.ts \
//     http://127.0.0.1:8080 ci-demo
// The token grants pull, push and create-cache on "ci-*" only. The script creates the cache
// (which must match "ci-*"), reads its config back, and shows two refused requests: destroying
// it (a permission the token lacks) and creating a cache outside the pattern. Exit status 0
// means the server agreed with the token on all four.
import { mintToken } from "@attic-ts/token";

const [server, cache] = process.argv.slice(2);
const secret = process.env.ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64;
if (!server || !cache || !secret) {
  console.error("usage: ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64=... main.ts <server url> <cache name matching ci-*>");
  process.exit(2);
}
const PATTERN = "ci-*";
const api = `${server.replace(/\/+$/, "")}/_api/v1`;

// The same claims `atticadm make-token --sub ci-bot --validity "1 hour" --pull 'ci-*' --push 'ci-*' --create-cache 'ci-*'` signs.
const token = await mintToken({
  secretBase64: secret,
  sub: "ci-bot",
  validity: "1 hour",
  grants: { [PATTERN]: { pull: true, push: true, createCache: true } },
});
const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
console.log(`minted: ${JSON.stringify(claims)}`);

const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
const createBody = JSON.stringify({ keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] });

/** One request: prints `label: status error` and answers whether the status was the expected one. */
async function step(label: string, expected: number, url: string, init: RequestInit): Promise<Response | null> {
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  const error = res.ok ? "" : ` ${(JSON.parse(text) as { error?: string }).error ?? text}`;
  console.log(`${label}: ${res.status}${error}`);
  if (res.status !== expected) return null;
  return new Response(text, { status: res.status });
}

let ok = true;
ok = (await step(`create ${cache}`, 200, `${api}/cache-config/${cache}`, { method: "POST", body: createBody })) !== null && ok;
const read = await step(`read ${cache}`, 200, `${api}/cache-config/${cache}`, { method: "GET" });
if (read) console.log(`public key: ${((await read.json()) as { public_key: string }).public_key}`);
ok = read !== null && ok;
// Refused with 403: the token can see the cache (it has bits on it) but lacks destroy-cache.
ok = (await step(`destroy ${cache} (not granted)`, 403, `${api}/cache-config/${cache}`, { method: "DELETE" })) !== null && ok;
// Refused with 401: outside the pattern the token has no bits at all, so the server does not
// even tell whether the cache exists.
ok = (await step(`create prod (outside ${PATTERN})`, 401, `${api}/cache-config/prod`, { method: "POST", body: createBody })) !== null && ok;
process.exit(ok ? 0 : 1);
