import { ApiError } from "./api-error.ts";
import type { CacheConfigView, ConfigureCacheRequest, CreateCacheRequest, UploadPathNarInfo, UploadPathResult } from "./api-types.ts";

/** Attic's User-Agent: `Attic/{crate} ({distributor})`. */
export const USER_AGENT = "Attic/attic-client (attic-ts)";

/**
 * Upload infos this long (bytes of JSON) or longer go in the body's preamble instead of the
 * `X-Attic-Nar-Info` header (Attic's `NAR_INFO_PREAMBLE_THRESHOLD`, 4 KiB), because servers
 * and proxies limit header sizes.
 */
export const NAR_INFO_PREAMBLE_THRESHOLD = 4 * 1024;

/** Talks to one Attic server's `/_api/v1` (any Attic-compatible server). */
export class ApiClient {
  private endpoint: URL;

  constructor(
    endpoint: string,
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.endpoint = new URL(endpoint);
  }

  /** Switches to another base URL (the `api_endpoint` a cache's config names). */
  setEndpoint(endpoint: string): void {
    this.endpoint = new URL(endpoint);
  }

  /** The base URL requests go to. */
  get baseUrl(): string {
    return this.endpoint.href;
  }

  async getCacheConfig(cache: string): Promise<CacheConfigView> {
    const res = await this.request("GET", this.cacheConfigUrl(cache));
    return (await res.json()) as CacheConfigView;
  }

  async createCache(cache: string, request: CreateCacheRequest): Promise<void> {
    await this.request("POST", this.cacheConfigUrl(cache), request);
  }

  async configureCache(cache: string, patch: ConfigureCacheRequest): Promise<void> {
    await this.request("PATCH", this.cacheConfigUrl(cache), patch);
  }

  async destroyCache(cache: string): Promise<void> {
    await this.request("DELETE", this.cacheConfigUrl(cache));
  }

  /** The subset of `hashes` (store path hashes) the cache does not have. */
  async getMissingPaths(cache: string, hashes: string[]): Promise<string[]> {
    const res = await this.request("POST", new URL("_api/v1/get-missing-paths", this.endpoint), { cache, store_path_hashes: hashes });
    return ((await res.json()) as { missing_paths: string[] }).missing_paths;
  }

  /**
   * Uploads one NAR, streaming `nar` into the request body as it is produced (never buffered).
   * The upload info goes in the `X-Attic-Nar-Info` header, or in a preamble before the NAR
   * (`X-Attic-Nar-Info-Preamble-Size`) when `forcePreamble` or when it is too long for a header.
   */
  async uploadPath(info: UploadPathNarInfo, nar: AsyncIterable<Uint8Array>, forcePreamble = false, signal?: AbortSignal): Promise<UploadPathResult | undefined> {
    const json = JSON.stringify(info);
    const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
    let body: AsyncIterable<Uint8Array> = nar;
    if (forcePreamble || Buffer.byteLength(json) >= NAR_INFO_PREAMBLE_THRESHOLD) {
      const preamble = Buffer.from(json);
      headers["X-Attic-Nar-Info-Preamble-Size"] = String(preamble.length);
      body = withPreamble(preamble, nar);
    } else {
      headers["X-Attic-Nar-Info"] = json;
    }
    const res = await this.request("PUT", new URL("_api/v1/upload-path", this.endpoint), undefined, { headers, body, signal });
    const text = await res.text();
    try {
      return JSON.parse(text) as UploadPathResult;
    } catch {
      // Attic's client treats an unparsable success as a plain upload.
      return undefined;
    }
  }

  private cacheConfigUrl(cache: string): URL {
    return new URL(encodeURIComponent(cache), new URL("_api/v1/cache-config/", this.endpoint));
  }

  private async request(
    method: string,
    url: URL,
    json?: unknown,
    raw?: { headers: Record<string, string>; body: AsyncIterable<Uint8Array>; signal: AbortSignal | undefined },
  ): Promise<Response> {
    const headers: Record<string, string> = { "User-Agent": USER_AGENT, ...raw?.headers };
    if (this.token !== undefined) headers.Authorization = `bearer ${this.token}`;
    const init: RequestInit & { duplex?: "half" } = { method, headers };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (raw) {
      // A streamed request body needs half-duplex mode in fetch.
      init.body = raw.body as unknown as RequestInit["body"];
      init.duplex = "half";
      if (raw.signal) init.signal = raw.signal;
    }
    const res = await this.fetchImpl(url, init);
    if (!res.ok) throw await ApiError.fromResponse(res);
    return res;
  }
}

async function* withPreamble(preamble: Uint8Array, nar: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield preamble;
  yield* nar;
}
