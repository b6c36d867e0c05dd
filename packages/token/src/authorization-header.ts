import { decodeBase64Strict } from "./signing-keys.ts";

/**
 * Attic's `^(?i)((bearer)|(basic))(?-i) (.*)$`: the scheme is case-insensitive, followed by
 * exactly one space. `[^\n]` because Rust's `.` excludes only `\n` (JavaScript's also
 * excludes `\r`, U+2028 and U+2029).
 */
const AUTHORIZATION = /^(bearer|basic) ([^\n]*)$/i;

/**
 * Extracts the JWT from an `Authorization` header value, as Attic's
 * `parse_authorization_header`:
 * - `Bearer <jwt>` → the rest, verbatim;
 * - `Basic <base64>` → strict base64, UTF-8, split at the first `:`; the password is the token
 *   and the username is ignored (how Nix sends netrc credentials);
 * - anything else, or a Basic value that does not decode or has no `:`, → null.
 */
export function tokenFromAuthorizationHeader(value: string | undefined | null): string | null {
  if (typeof value !== "string") return null;
  const match = AUTHORIZATION.exec(value);
  if (!match) return null;
  const scheme = match[1]!;
  const rest = match[2]!;
  if (scheme.toLowerCase() === "bearer") return rest;

  const bytes = decodeBase64Strict(rest);
  if (!bytes) return null;
  let userPass: string;
  try {
    userPass = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const colon = userPass.indexOf(":");
  return colon < 0 ? null : userPass.slice(colon + 1);
}
