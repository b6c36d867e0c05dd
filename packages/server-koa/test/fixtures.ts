import { addFiles, baseName, dumpNar, uploadInfoFor } from "../../../test/helpers/nix.ts";
import { collect, pseudoRandomBytes } from "../../../test/helpers/data.ts";

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
