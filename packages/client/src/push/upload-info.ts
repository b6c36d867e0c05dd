import { parseTypedHash } from "@attic-ts/core";
import type { UploadPathNarInfo } from "../api/api-types.ts";
import type { PathInfo } from "../nix/nix-cli.ts";
import { storePathHash } from "./push-plan.ts";

/**
 * The upload info Attic's client sends for a path: base-name references, signatures, CA, the
 * NAR hash as `sha256:<hex>` (Nix prints SRI) and size; `system` and `deriver` are always null.
 */
export function toUploadInfo(cache: string, info: PathInfo): UploadPathNarInfo {
  return {
    cache,
    store_path_hash: storePathHash(info.path),
    store_path: info.path,
    references: info.references.map((r) => r.slice(r.lastIndexOf("/") + 1)),
    system: null,
    deriver: null,
    sigs: info.signatures ?? [],
    ca: info.ca ?? null,
    nar_hash: parseTypedHash(info.narHash).toTypedBase16(),
    nar_size: info.narSize,
  };
}
