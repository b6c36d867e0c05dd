import { assertCacheName } from "../auth/cache-name.ts";
import { RequestError } from "../errors.ts";
import { assertStorePathHash, parseStorePath, parseStorePathBaseName } from "../nix/store-path.ts";
import { parseTypedHash } from "../nix/hash.ts";
import { uploadPathNarInfoSchema, type UploadPathNarInfo } from "./upload-types.ts";

/**
 * Checks the upload info before any byte is read. Stricter than Attic, which stores whatever
 * `store_path` it is given: we require that it is a store path whose hash is
 * `store_path_hash`, and that references and deriver are valid base names, so a narinfo we
 * serve is always one Nix can parse.
 */
export function validateUploadInfo(raw: unknown): UploadPathNarInfo {
  const parsed = uploadPathNarInfoSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RequestError(`Invalid upload info at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  const info = parsed.data;
  assertCacheName(info.cache);
  assertStorePathHash(info.store_path_hash);
  const path = parseStorePath(info.store_path);
  if (path.hash !== info.store_path_hash) {
    throw new RequestError("store_path does not match store_path_hash");
  }
  for (const ref of info.references) parseStorePathBaseName(ref);
  if (info.deriver !== null && info.deriver !== "unknown-deriver") parseStorePathBaseName(info.deriver);
  parseTypedHash(info.nar_hash);
  // Served narinfo lines must stay single lines; a line break would let a client add fields.
  for (const value of [info.ca, ...info.sigs]) {
    if (value !== null && /[\r\n]/.test(value)) throw new RequestError("Upload info values must not contain line breaks");
  }
  // Nix writes "unknown-deriver" for "none"; store it as absent so narinfos omit the line.
  return info.deriver === "unknown-deriver" ? { ...info, deriver: null } : info;
}
