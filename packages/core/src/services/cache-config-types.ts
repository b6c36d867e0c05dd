/** Wire shapes of `/_api/v1/cache-config` (Attic's serde encodings, kept bit-exact). */

/** `"Generate"` or `{"Keypair": "<name>:<base64 64 bytes>"}`. */
export type KeypairConfig = "Generate" | { Keypair: string };

/** `"Global"` (use the server default) or `{"Period": seconds}`. */
export type RetentionPeriodConfig = "Global" | { Period: number };

/** GET answer, keys in Attic's order. */
export interface CacheConfigView {
  substituter_endpoint: string;
  api_endpoint: string;
  public_key: string;
  is_public: boolean;
  store_dir: string;
  priority: number;
  upstream_cache_key_names: string[];
  retention_period: RetentionPeriodConfig;
}

export interface CreateCacheRequest {
  keypair: KeypairConfig;
  is_public: boolean;
  store_dir: string;
  priority: number;
  upstream_cache_key_names: string[];
}

/** PATCH body: any subset; read-only fields are accepted and ignored. */
export interface ConfigureCacheRequest {
  keypair?: KeypairConfig | null;
  is_public?: boolean | null;
  store_dir?: string | null;
  priority?: number | null;
  upstream_cache_key_names?: string[] | null;
  retention_period?: RetentionPeriodConfig | null;
  substituter_endpoint?: unknown;
  api_endpoint?: unknown;
  public_key?: unknown;
}

/** Where clients reach the server: from `api-endpoint`, or synthesized from the request. */
export interface Endpoints {
  apiEndpoint: string;
  substituterEndpoint: string;
}
