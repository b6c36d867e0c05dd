import { afterEach, describe, expect, it } from "vitest";
import { ApiClient, NAR_INFO_PREAMBLE_THRESHOLD, USER_AGENT } from "../src/api/api-client.ts";
import type { UploadPathNarInfo } from "../src/api/api-types.ts";
import { httpServer, json } from "./helpers.ts";

let server: Awaited<ReturnType<typeof httpServer>> | undefined;
afterEach(async () => server?.close());

const info = (refs = 1): UploadPathNarInfo => ({
  cache: "main",
  store_path_hash: "a".repeat(32),
  store_path: `/nix/store/${"a".repeat(32)}-x`,
  references: Array.from({ length: refs }, (_, i) => `${String(i).padStart(32, "b")}-ref`),
  system: null,
  deriver: null,
  sigs: [],
  ca: null,
  nar_hash: `sha256:${"00".repeat(32)}`,
  nar_size: 6,
});

async function* slowNar(): AsyncGenerator<Uint8Array> {
  yield Buffer.from("nar");
  await new Promise((r) => setTimeout(r, 50));
  yield Buffer.from("-ok!");
}

describe("API client", () => {
  it("sends Attic's User-Agent and a bearer token, and joins paths onto the endpoint", async () => {
    server = await httpServer((req, res) => json(res, 200, { missing_paths: ["x"] }));
    const api = new ApiClient(`${server.url}prefix/`, "tok");
    expect(await api.getMissingPaths("main", ["x", "y"])).toEqual(["x"]);
    const [req] = server.requests;
    expect(req!.url).toBe("/prefix/_api/v1/get-missing-paths");
    expect(req!.headers["user-agent"]).toBe(USER_AGENT);
    expect(USER_AGENT).toMatch(/^Attic\/attic-client \(.+\)$/);
    expect(req!.headers.authorization).toBe("bearer tok");
    expect(req!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req!.body.toString())).toEqual({ cache: "main", store_path_hashes: ["x", "y"] });
  });

  it("sends no Authorization header without a token", async () => {
    server = await httpServer((req, res) => json(res, 200, {}));
    await new ApiClient(server.url, undefined).destroyCache("c");
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
    expect(server.requests[0]).toMatchObject({ method: "DELETE", url: "/_api/v1/cache-config/c" });
  });

  it("formats structured errors as {error}: {message} and others as HTTP {status}: {text}", async () => {
    server = await httpServer((req, res) => {
      if (req.url.endsWith("/a")) json(res, 404, { code: 404, error: "NoSuchCache", message: "The requested cache does not exist." });
      else {
        res.writeHead(502, { "Content-Type": "text/plain" });
        res.end("bad gateway");
      }
    });
    const api = new ApiClient(server.url, undefined);
    await expect(api.getCacheConfig("a")).rejects.toThrow(/^NoSuchCache: The requested cache does not exist\.$/);
    await expect(api.getCacheConfig("b")).rejects.toThrow(/^HTTP 502 Bad Gateway: bad gateway$/);
  });

  it("streams the NAR with the upload info in X-Attic-Nar-Info", async () => {
    server = await httpServer((req, res) => json(res, 200, { kind: "Uploaded", file_size: 5, frac_deduplicated: 0.5 }));
    const result = await new ApiClient(server.url, "t").uploadPath(info(), slowNar());
    expect(result).toEqual({ kind: "Uploaded", file_size: 5, frac_deduplicated: 0.5 });
    const req = server.requests[0]!;
    expect(req.method).toBe("PUT");
    expect(req.url).toBe("/_api/v1/upload-path");
    expect(JSON.parse(req.headers["x-attic-nar-info"] as string)).toEqual(info());
    expect(req.headers["x-attic-nar-info-preamble-size"]).toBeUndefined();
    // Streamed: chunked transfer, no Content-Length computed from a buffered body.
    expect(req.headers["transfer-encoding"]).toBe("chunked");
    expect(req.headers["content-length"]).toBeUndefined();
    expect(req.body.toString()).toBe("nar-ok!");
  });

  it("puts the upload info in a preamble when forced or when it is 4 KiB or more", async () => {
    server = await httpServer((req, res) => json(res, 200, { kind: "Deduplicated", frac_deduplicated: null }));
    const api = new ApiClient(server.url, "t");
    await api.uploadPath(info(), slowNar(), true);
    const big = info(100);
    expect(JSON.stringify(big).length).toBeGreaterThanOrEqual(NAR_INFO_PREAMBLE_THRESHOLD);
    await api.uploadPath(big, slowNar());
    for (const [i, expected] of [info(), big].entries()) {
      const req = server.requests[i]!;
      const size = Number(req.headers["x-attic-nar-info-preamble-size"]);
      expect(req.headers["x-attic-nar-info"]).toBeUndefined();
      expect(JSON.parse(req.body.subarray(0, size).toString())).toEqual(expected);
      expect(req.body.subarray(size).toString()).toBe("nar-ok!");
    }
  });

  it("fails the upload when the NAR stream fails", async () => {
    server = await httpServer((req, res) => json(res, 200, {}));
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("partial");
      throw new Error("nix-store --dump failed");
    }
    await expect(new ApiClient(server.url, "t").uploadPath(info(), broken())).rejects.toThrow();
  });
});
