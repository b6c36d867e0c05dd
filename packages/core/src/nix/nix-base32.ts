/**
 * Nix's base-32 encoding ("nix32"). It is not RFC 4648: the alphabet omits `e`, `o`, `u` and
 * `t` (to avoid accidental words), bits are taken least-significant first, and the last 5-bit
 * group is printed first. Store path hashes and the `sha256:<52 chars>` form in narinfo
 * fingerprints use it.
 */

/** The 32 characters of Nix's base-32 alphabet, in digit order. */
export const NIX_BASE32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz";

const DIGIT_OF: ReadonlyMap<string, number> = new Map(
  [...NIX_BASE32_ALPHABET].map((c, i) => [c, i] as const),
);

/** Length in characters of the nix32 form of `byteLength` bytes (52 for 32 bytes). */
export function nixBase32Length(byteLength: number): number {
  return Math.ceil((byteLength * 8) / 5);
}

/** Encodes bytes in Nix's base-32 (e.g. 32 bytes → 52 characters). */
export function encodeNixBase32(bytes: Uint8Array): string {
  const len = nixBase32Length(bytes.length);
  let out = "";
  for (let k = len - 1; k >= 0; k--) {
    const bit = k * 5;
    const i = bit >> 3;
    const j = bit & 7;
    const low = (bytes[i] ?? 0) >> j;
    const high = i + 1 < bytes.length ? (bytes[i + 1] ?? 0) << (8 - j) : 0;
    out += NIX_BASE32_ALPHABET[(low | high) & 31];
  }
  return out;
}

/**
 * Decodes Nix's base-32. Throws `RangeError` on a character outside the alphabet, on a length
 * no byte count encodes to, or when the unused high bits of the first character are not zero
 * (so every byte string has exactly one accepted spelling, as in Nix).
 */
export function decodeNixBase32(text: string): Uint8Array {
  const byteLength = Math.floor((text.length * 5) / 8);
  if (nixBase32Length(byteLength) !== text.length) {
    throw new RangeError(`invalid nix-base32 length ${text.length}`);
  }
  const out = new Uint8Array(byteLength);
  for (let n = 0; n < text.length; n++) {
    // Character n counted from the end carries bits 5n..5n+4.
    const c = text[text.length - 1 - n] as string;
    const digit = DIGIT_OF.get(c);
    if (digit === undefined) throw new RangeError(`invalid nix-base32 character ${JSON.stringify(c)}`);
    const bit = n * 5;
    const i = bit >> 3;
    const j = bit & 7;
    out[i] = (out[i] as number) | ((digit << j) & 0xff);
    const carry = digit >> (8 - j);
    if (i + 1 < byteLength) {
      out[i + 1] = (out[i + 1] as number) | carry;
    } else if (carry !== 0) {
      throw new RangeError("invalid nix-base32: non-zero padding bits");
    }
  }
  return out;
}
