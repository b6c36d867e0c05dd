/**
 * A minimal Attic push client: `PUT /_api/v1/upload-path` with the upload info in
 * `X-Attic-Nar-Info` and the NAR streamed as the body (chunked encoding, as Attic's client does).
 */
import { createReadStream } from "node:fs";
import { Agent, request } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface UploadTarget {
  url: string;
  token: string;
  cache: string;
}

export interface UploadResult {
  kind: string;
  file_size?: number;
  frac_deduplicated: number | null;
}

export interface NarToUpload {
  storePathHash: string;
  narHash: string;
  size: number;
  /** A file path, or a source of the bytes. */
  body: string | (() => AsyncIterable<Uint8Array>);
}

export async function uploadNar(target: UploadTarget, nar: NarToUpload): Promise<UploadResult> {
  const info = {
    cache: target.cache,
    store_path_hash: nar.storePathHash,
    store_path: `/nix/store/${nar.storePathHash}-bench`,
    references: [],
    system: null,
    deriver: null,
    sigs: [],
    ca: null,
    nar_hash: nar.narHash,
    nar_size: nar.size,
  };
  const u = new URL("/_api/v1/upload-path", target.url);
  const req = request(u, {
    method: "PUT",
    agent,
    headers: { Authorization: `Bearer ${target.token}`, "X-Attic-Nar-Info": JSON.stringify(info), "Content-Type": "application/octet-stream" },
  });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  const source = typeof nar.body === "string" ? createReadStream(nar.body, { highWaterMark: 1 << 20 }) : Readable.from(nar.body());
  await pipeline(source, req);
  const { status, text } = await response;
  if (status !== 200) throw new Error(`upload ${nar.storePathHash}: HTTP ${status} ${text}`);
  return JSON.parse(text) as UploadResult;
}

/** Uploads every NAR, `parallel` at a time; resolves with the results in input order. */
export async function uploadAll(target: UploadTarget, nars: NarToUpload[], parallel: number): Promise<UploadResult[]> {
  const results: UploadResult[] = new Array(nars.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, nars.length) }, async () => {
      while (next < nars.length) {
        const i = next++;
        results[i] = await uploadNar(target, nars[i]!);
      }
    }),
  );
  return results;
}
