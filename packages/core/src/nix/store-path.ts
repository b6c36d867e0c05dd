import { NixFormatError } from "../errors.ts";
import { NIX_BASE32_ALPHABET } from "./nix-base32.ts";

/** The store directory almost every Nix installation uses. */
export const DEFAULT_STORE_DIR = "/nix/store";

/** Characters in a store path hash (20 bytes in nix-base32). */
export const STORE_PATH_HASH_LENGTH = 32;

/** Longest store path name Nix accepts, in characters (`StorePath::MaxPathLen`). */
export const MAX_STORE_PATH_NAME_LENGTH = 211;

/** A store path split into its parts, e.g. `/nix/store` + `ia70…drr` + `ruby-2.7.5`. */
export interface StorePath {
  /** Absolute directory without trailing slash, e.g. `/nix/store`. */
  storeDir: string;
  /** The 32-character nix-base32 hash part. */
  hash: string;
  /** The human-readable name after the first dash. */
  name: string;
  /** `{hash}-{name}`: how narinfo `References` and Attic's database name paths. */
  baseName: string;
}

const HASH_RE = new RegExp(`^[${NIX_BASE32_ALPHABET}]{${STORE_PATH_HASH_LENGTH}}$`);
const NAME_CHARS_RE = /^[A-Za-z0-9+\-._?=]+$/;

/** True when `s` is exactly 32 characters of the nix-base32 alphabet. */
export function isValidStorePathHash(s: string): boolean {
  return HASH_RE.test(s);
}

/** Returns `s` if it is a valid store path hash; throws `NixFormatError("InvalidStorePathHash")`. */
export function assertStorePathHash(s: string): string {
  if (s.length !== STORE_PATH_HASH_LENGTH) throw hashError(s, "Hash is of invalid length");
  if (!HASH_RE.test(s)) throw hashError(s, "Hash is of invalid format");
  return s;
}

/**
 * Why `name` is not a valid store path name, or undefined when it is. Follows current Nix
 * (`checkName`): 1..211 characters of `[A-Za-z0-9+\-._?=]`, and neither `.` nor `..` as the
 * whole name or as its first dash-separated part. (Nix 2.4–2.15 rejected every leading dot;
 * later Nix and Attic accept `.foo`, so we do too rather than refuse their uploads.)
 */
export function storePathNameProblem(name: string): string | undefined {
  if (name.length === 0) return "Name is empty";
  if (name.length > MAX_STORE_PATH_NAME_LENGTH) {
    return `Name is longer than ${MAX_STORE_PATH_NAME_LENGTH} characters`;
  }
  if (!NAME_CHARS_RE.test(name)) return "Name contains an illegal character";
  const first = name.split("-", 1)[0];
  if (first === "." || first === "..") return `Name must not start with "${first}"`;
  return undefined;
}

/** True when `name` is a valid store path name (see {@link storePathNameProblem}). */
export function isValidStorePathName(name: string): boolean {
  return storePathNameProblem(name) === undefined;
}

/** Returns `name` if valid; throws `NixFormatError("InvalidStorePathName")`. */
export function assertStorePathName(name: string): string {
  const problem = storePathNameProblem(name);
  if (problem !== undefined) throw nameError(name, problem);
  return name;
}

/**
 * Splits a base name `{hash}-{name}` (no directory). Throws
 * `NixFormatError("InvalidStorePathName")` for any malformation, hash part included, as Attic's
 * `StorePath::from_base_name` does.
 */
export function parseStorePathBaseName(baseName: string): Omit<StorePath, "storeDir"> {
  if (baseName.length < STORE_PATH_HASH_LENGTH + 2 || baseName[STORE_PATH_HASH_LENGTH] !== "-") {
    throw nameError(baseName, "Name is of invalid format");
  }
  const hash = baseName.slice(0, STORE_PATH_HASH_LENGTH);
  if (!HASH_RE.test(hash)) throw nameError(baseName, "Hash part is not valid nix-base32");
  const name = baseName.slice(STORE_PATH_HASH_LENGTH + 1);
  const problem = storePathNameProblem(name);
  if (problem !== undefined) throw nameError(baseName, problem);
  return { hash, name, baseName };
}

/**
 * Parses an absolute store path `{storeDir}/{hash}-{name}`, exactly (no trailing slash, no
 * path inside the store object). With `storeDir` the path must lie directly in it; without, the
 * store directory is the path's parent. Throws `NixFormatError("InvalidStorePath")` for a bad
 * shape and `InvalidStorePathName` for a bad base name.
 */
export function parseStorePath(path: string, storeDir?: string): StorePath {
  const slash = path.lastIndexOf("/");
  if (slash < 0) throw pathError(path, "Path is not absolute");
  const dir = path.slice(0, slash);
  const baseName = path.slice(slash + 1);
  if (storeDir !== undefined) {
    if (dir !== storeDir) throw pathError(path, "Path is not directly in store directory");
  } else {
    const problem = storeDirProblem(dir);
    if (problem !== undefined) throw pathError(path, problem);
  }
  if (baseName.length === 0) throw pathError(path, "Path has no base name");
  if (baseName.length < STORE_PATH_HASH_LENGTH) throw pathError(path, "Path is too short");
  return { storeDir: dir, ...parseStorePathBaseName(baseName) };
}

function storeDirProblem(dir: string): string | undefined {
  if (!dir.startsWith("/")) return "Path is not absolute";
  if (dir.length === 1 || dir.endsWith("/") || dir.includes("//")) return "Store directory is not canonical";
  if (dir.split("/").some((part) => part === "." || part === "..")) return "Store directory is not canonical";
  return undefined;
}

// Messages mirror Attic's `AtticError` Display (paths and names in Rust `{:?}` quotes).
function hashError(hash: string, reason: string): NixFormatError {
  return new NixFormatError("InvalidStorePathHash", `Invalid store path hash "${hash}": ${reason}`);
}

function nameError(baseName: string, reason: string): NixFormatError {
  return new NixFormatError("InvalidStorePathName", `Invalid store path base name ${JSON.stringify(baseName)}: ${reason}`);
}

function pathError(path: string, reason: string): NixFormatError {
  return new NixFormatError("InvalidStorePath", `Invalid store path ${JSON.stringify(path)}: ${reason}`);
}
