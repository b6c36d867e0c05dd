import type { CacheConfigView, ConfigureCacheRequest, CreateCacheRequest } from "@attic-ts/core";

export type { CacheConfigView, ConfigureCacheRequest, CreateCacheRequest };

/** The upload info of `PUT /_api/v1/upload-path` (Attic's `UploadPathNarInfo`). */
export interface UploadPathNarInfo {
  cache: string;
  store_path_hash: string;
  store_path: string;
  /** Base names (`{hash}-{name}`), not full paths. */
  references: string[];
  system: null;
  deriver: null;
  sigs: string[];
  ca: string | null;
  /** `sha256:<64 hex>`. */
  nar_hash: string;
  /** Bytes. */
  nar_size: number;
}

/** The answer of an upload (Attic's `UploadPathResult`). */
export interface UploadPathResult {
  kind: "Uploaded" | "Deduplicated";
  /** Bytes stored after compression, for new uploads. */
  file_size?: number;
  /** Share (0..1) of the NAR's chunks that were already stored. */
  frac_deduplicated: number | null;
}
