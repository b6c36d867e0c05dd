import { asyncOf } from "../util/async-of.ts";
import type { BlobStore, PutOptions } from "./blob-store.ts";
import type { RemoteFile } from "./remote-file.ts";

/** Writes bytes held in memory under `key`: through `putBytes` where the store has it, else `put`. */
export function putBytes(store: BlobStore, key: string, data: Uint8Array, options: PutOptions = {}): Promise<RemoteFile> {
  return store.putBytes ? store.putBytes(key, data, options) : store.put(key, asyncOf(data), options);
}
