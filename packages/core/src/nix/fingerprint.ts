import { parseTypedHash, Sha256Hash } from "./hash.ts";
import { parseStorePath } from "./store-path.ts";

/** What a narinfo signature covers. */
export interface FingerprintInput {
  /** Full store path; its parent directory is the store dir prefixed to each reference. */
  storePath: string;
  /** The NAR hash, as a value or in any form {@link parseTypedHash} accepts. */
  narHash: Sha256Hash | string;
  /** Uncompressed NAR size, in bytes. */
  narSize: number | bigint;
  /** Base names of the references, in the order they are listed in the narinfo. */
  references: readonly string[];
}

/**
 * The message Nix signs for a path (`ValidPathInfo::fingerprint`):
 * `1;{storePath};sha256:{nix32 narHash};{narSize};{storeDir/ref,…}`. Sign or verify its UTF-8
 * bytes. Throws `NixFormatError` for a bad store path or hash.
 */
export function narInfoFingerprint(input: FingerprintInput): string {
  const { storeDir } = parseStorePath(input.storePath);
  const hash = typeof input.narHash === "string" ? parseTypedHash(input.narHash) : input.narHash;
  const refs = input.references.map((ref) => `${storeDir}/${ref}`).join(",");
  return `1;${input.storePath};${hash.toTypedBase32()};${input.narSize};${refs}`;
}
