import { NixFormatError } from "../errors.ts";

/**
 * Attic's cache name rule (attic/src/cache.rs): ASCII letters, digits, `-`, `_` and `+`
 * (the namespace delimiter, e.g. `alice+ci`), starting with a letter or digit, 1 to 50
 * characters. Written without the `u` flag so `$` and the classes are ASCII-only, as in Rust.
 */
const CACHE_NAME = /^[A-Za-z0-9][A-Za-z0-9_+-]{0,49}$/;

/** The pattern rule: as a name, plus `*` anywhere (including first). `?` is not allowed. */
const CACHE_PATTERN = /^[A-Za-z0-9*][A-Za-z0-9_+*-]{0,49}$/;

/** The longest cache name (and pattern) Attic accepts, in characters (all ASCII). */
export const MAX_CACHE_NAME_LENGTH = 50;

/** True when `name` is a valid cache name. */
export function isValidCacheName(name: string): boolean {
  return CACHE_NAME.test(name);
}

/**
 * Returns `name` unchanged when valid; otherwise throws `NixFormatError("InvalidCacheName")`
 * with Attic's message.
 */
export function assertCacheName(name: string): string {
  if (!isValidCacheName(name)) {
    throw new NixFormatError("InvalidCacheName", `Invalid cache name "${name}"`);
  }
  return name;
}

/** True when `pattern` is a valid cache name pattern (a token's `caches` key). */
export function isValidCachePattern(pattern: string): boolean {
  return CACHE_PATTERN.test(pattern);
}

/**
 * Matches a cache name against a pattern the way the `wildmatch` crate does for the characters
 * a pattern may contain: `*` matches any sequence (also empty), everything else matches itself,
 * case-sensitively. A pattern without `*` therefore matches only the identical name.
 *
 * Uses the linear-backtracking two-pointer algorithm instead of a RegExp built from the pattern,
 * so no pattern can cause catastrophic backtracking.
 */
export function cachePatternMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  // Position of the last `*` seen, and the name position it is currently absorbing up to.
  let star = -1;
  let starName = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      starName = n;
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (star >= 0) {
      // Let the last `*` absorb one more character and retry from there.
      p = star + 1;
      n = ++starName;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}
