import { parseTypedHash, toTypedBase16 } from "@attic-ts/core";
import { addFiles, baseName, dumpNar, uploadInfoFor } from "../../../test/helpers/nix.ts";
import { collect, pseudoRandomBytes } from "../../../test/helpers/data.ts";
import type { TestEngine } from "../../../test/helpers/engine.ts";
import { s3Settings } from "../../../test/helpers/s3.ts";

export type UploadInfo = Awaited<ReturnType<typeof uploadInfoFor>>;

/** A store path made by the real Nix CLI, with its NAR and Attic upload info. */
export interface NarFixture {
  path: string;
  /** The 32-character store path hash. */
  hash: string;
  nar: Buffer;
  info: UploadInfo;
}

/** Adds files to the Nix store and dumps the resulting path's NAR. */
export async function narFixture(name: string, files: Record<string, string | Uint8Array>): Promise<NarFixture> {
  const path = await addFiles(name, files);
  const info = await uploadInfoFor("placeholder", path);
  const nar = await collect(dumpNar(path));
  return { path, hash: baseName(path).slice(0, 32), nar, info };
}

/** A small path (stored whole) and a ~700 KB incompressible one (cut into several chunks). */
export async function standardFixtures(tag: string): Promise<{ small: NarFixture; large: NarFixture }> {
  const small = await narFixture(`koa-small-${tag}`, { "hello.txt": `hello from ${tag}\n` });
  const large = await narFixture(`koa-large-${tag}`, { "blob.bin": pseudoRandomBytes(tag.length * 7919 + 13, 700_000) });
  return { small, large };
}

export function infoFor(f: NarFixture, cache: string, patch: Partial<UploadInfo> = {}): UploadInfo {
  return { ...f.info, cache, ...patch };
}

/** PUT upload-path with the info in `X-Attic-Nar-Info`. */
export function uploadViaHeader(baseUrl: string, token: string | null, info: unknown, nar: Uint8Array, init: RequestInit = {}): Promise<Response> {
  return fetch(`${baseUrl}/_api/v1/upload-path`, {
    method: "PUT",
    ...init,
    headers: {
      "X-Attic-Nar-Info": JSON.stringify(info),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
    body: nar,
  });
}

/** PUT upload-path with the info as a preamble at the start of the body. */
export function uploadViaPreamble(baseUrl: string, token: string | null, info: unknown, nar: Uint8Array): Promise<Response> {
  const preamble = Buffer.from(JSON.stringify(info));
  return fetch(`${baseUrl}/_api/v1/upload-path`, {
    method: "PUT",
    headers: {
      "X-Attic-Nar-Info-Preamble-Size": String(preamble.length),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: Buffer.concat([preamble, nar]),
  });
}

/** Creates a cache over HTTP with Attic's request JSON. */
export async function createCacheHttp(baseUrl: string, token: string, name: string, isPublic = false): Promise<void> {
  const res = await fetch(`${baseUrl}/_api/v1/cache-config/${name}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      keypair: "Generate",
      is_public: isPublic,
      store_dir: "/nix/store",
      priority: 41,
      upstream_cache_key_names: ["cache.nixos.org-1"],
    }),
  });
  if (res.status !== 200) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`);
}

/** How many chunks the server stored the NAR of `f` in (1 for a NAR below the chunking threshold). */
export async function numChunks(t: TestEngine, f: NarFixture): Promise<number> {
  const row = (await t.inspect("nar").where({ nar_hash: toTypedBase16(parseTypedHash(f.info.nar_hash)) }).first()) as { num_chunks: number } | undefined;
  if (!row) throw new Error(`no NAR row for ${f.path}`);
  return Number(row.num_chunks);
}

/**
 * GETs (or HEADs) a NAR without following redirects. On S3 a single-chunk NAR is answered with
 * Attic's 307 to a presigned URL on the gateway; `redirect` says whether this combination must
 * redirect (asserted), and the redirect is then followed the way Nix does, without the cache's
 * credentials. `final` is the response carrying the NAR bytes.
 */
export async function fetchNar(url: string, init: RequestInit, redirect: boolean): Promise<{ first: Response; final: Response }> {
  const first = await fetch(url, { ...init, redirect: "manual" });
  if (!redirect) {
    if (first.status >= 300 && first.status < 400) throw new Error(`expected the NAR itself, got ${first.status} to ${first.headers.get("location")}`);
    return { first, final: first };
  }
  if (first.status !== 307) throw new Error(`expected a 307 to a presigned URL, got ${first.status}: ${await first.text()}`);
  const location = first.headers.get("location") ?? "";
  const gateway = `${s3Settings().endpoint}/`;
  if (!location.startsWith(gateway) || !/[?&]X-Amz-Signature=/.test(location)) throw new Error(`not a presigned gateway URL: ${location}`);
  await first.arrayBuffer();
  return { first, final: await fetch(location, { method: init.method ?? "GET" }) };
}
