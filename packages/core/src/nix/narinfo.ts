import { RequestError } from "../errors.ts";
import { parseTypedHash, type Sha256Hash } from "./hash.ts";
import { parseStorePath, parseStorePathBaseName } from "./store-path.ts";

/** The contents of a `.narinfo` file (MIME `text/x-nix-narinfo`). */
export interface NarInfo {
  /** Full store path, e.g. `/nix/store/xcp9…553-hello-2.10`. */
  storePath: string;
  /** Where the (compressed) NAR is, relative to the cache root; Attic: `nar/{storePathHash}.nar`. */
  url: string;
  /** `zstd`, `xz`, `br`, `none`, … Nix assumes `bzip2` when the line is missing. */
  compression: string;
  /** Hash of the compressed file; Attic never emits it. */
  fileHash?: Sha256Hash;
  /** Size of the compressed file, in bytes; Attic never emits it. */
  fileSize?: number;
  /** Hash of the uncompressed NAR. */
  narHash: Sha256Hash;
  /** Size of the uncompressed NAR, in bytes. */
  narSize: number;
  /** Base names (`{hash}-{name}`) of the referenced store paths; may include the path itself. */
  references: string[];
  system?: string;
  /** Base name of the deriver (`….drv`); absent when unknown. */
  deriver?: string;
  /** `name:base64(signature)` strings, one `Sig:` line each. */
  sigs: string[];
  /** Content address, opaque (e.g. `fixed:r:sha256:…`). */
  ca?: string;
}

/** What {@link serializeNarInfo} takes: a {@link NarInfo} whose hashes may be in any parseable form. */
export type NarInfoInput = Omit<NarInfo, "narHash" | "fileHash"> & {
  narHash: Sha256Hash | string;
  fileHash?: Sha256Hash | string;
};

/** The contents of `nix-cache-info` (MIME `text/x-nix-cache-info`). */
export interface NixCacheInfo {
  storeDir: string;
  /** Lower is preferred; Attic's default is 41, cache.nixos.org's 40. */
  priority: number;
  wantMassQuery: boolean;
}

/** The placeholder Nix writes when the deriver is unknown; parsed as "no deriver". */
const UNKNOWN_DERIVER = "unknown-deriver";

/**
 * Serializes in Attic's field order, one `Key: value\n` line per present field. `NarHash` and
 * `FileHash` are written as `sha256:<hex>` like Attic (Nix accepts it). Empty references still
 * produce `References: `. Hash strings are validated (`NixFormatError`). Throws `RangeError`
 * if a value contains a line break, which would let a client inject fields.
 */
export function serializeNarInfo(info: NarInfoInput): string {
  const lines: [string, string][] = [
    ["StorePath", info.storePath],
    ["URL", info.url],
    ["Compression", info.compression],
  ];
  if (info.fileHash !== undefined) lines.push(["FileHash", base16(info.fileHash)]);
  if (info.fileSize !== undefined) lines.push(["FileSize", String(info.fileSize)]);
  lines.push(["NarHash", base16(info.narHash)]);
  lines.push(["NarSize", String(info.narSize)]);
  lines.push(["References", info.references.join(" ")]);
  if (info.system !== undefined) lines.push(["System", info.system]);
  if (info.deriver !== undefined) lines.push(["Deriver", info.deriver]);
  for (const sig of info.sigs) lines.push(["Sig", sig]);
  if (info.ca !== undefined) lines.push(["CA", info.ca]);
  return serializeLines(lines);
}

/**
 * Parses a narinfo. Tolerant like Nix: unknown keys are ignored, `Sig` may repeat,
 * `Deriver: unknown-deriver` means no deriver, a missing `Compression` means `bzip2`, missing
 * `References` means none. Requires `StorePath`, `URL`, `NarHash` and `NarSize`. Throws
 * `RequestError` for a malformed file and `NixFormatError` for a bad path or hash.
 */
export function parseNarInfo(text: string): NarInfo {
  const fields = parseLines(text);
  const one = (key: string): string | undefined => fields.get(key)?.at(-1);
  const required = (key: string): string => {
    const value = one(key);
    if (value === undefined) throw new RequestError(`Invalid narinfo: missing ${key}`);
    return value;
  };

  const storePath = required("StorePath");
  parseStorePath(storePath);
  const references = (one("References") ?? "").split(" ").filter((r) => r.length > 0);
  for (const ref of references) parseStorePathBaseName(ref);

  const info: NarInfo = {
    storePath,
    url: required("URL"),
    compression: one("Compression") ?? "bzip2",
    narHash: parseTypedHash(required("NarHash")),
    narSize: parseSize("NarSize", required("NarSize")),
    references,
    sigs: fields.get("Sig") ?? [],
  };
  const fileHash = one("FileHash");
  if (fileHash !== undefined) info.fileHash = parseTypedHash(fileHash);
  const fileSize = one("FileSize");
  if (fileSize !== undefined) info.fileSize = parseSize("FileSize", fileSize);
  const system = one("System");
  if (system !== undefined) info.system = system;
  const deriver = one("Deriver");
  if (deriver !== undefined && deriver !== UNKNOWN_DERIVER && deriver !== "") info.deriver = deriver;
  const ca = one("CA");
  if (ca !== undefined && ca !== "") info.ca = ca;
  return info;
}

/** `WantMassQuery`, `StoreDir`, `Priority`, in that order (Attic's struct order). */
export function serializeNixCacheInfo(info: NixCacheInfo): string {
  return serializeLines([
    ["WantMassQuery", info.wantMassQuery ? "1" : "0"],
    ["StoreDir", info.storeDir],
    ["Priority", String(info.priority)],
  ]);
}

/** Parses `nix-cache-info`; missing keys get Nix's defaults (`/nix/store`, priority 50, no mass query). */
export function parseNixCacheInfo(text: string): NixCacheInfo {
  const fields = parseLines(text);
  const priority = fields.get("Priority")?.at(-1);
  return {
    storeDir: fields.get("StoreDir")?.at(-1) ?? "/nix/store",
    priority: priority === undefined ? 50 : parseSize("Priority", priority),
    wantMassQuery: fields.get("WantMassQuery")?.at(-1) === "1",
  };
}

function base16(hash: Sha256Hash | string): string {
  return (typeof hash === "string" ? parseTypedHash(hash) : hash).toTypedBase16();
}

function serializeLines(lines: [string, string][]): string {
  let out = "";
  for (const [key, value] of lines) {
    if (/[\r\n]/.test(value)) throw new RangeError(`${key} must not contain a line break`);
    out += `${key}: ${value}\n`;
  }
  return out;
}

/** `Key: value` lines into key → values (in order). Blank lines are skipped. */
function parseLines(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new RequestError(`Invalid manifest line ${JSON.stringify(line)}`);
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    const list = fields.get(key);
    if (list) list.push(value);
    else fields.set(key, [value]);
  }
  return fields;
}

function parseSize(key: string, value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new RequestError(`Invalid ${key} ${JSON.stringify(value)}`);
  return n;
}
