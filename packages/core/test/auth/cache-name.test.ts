import { describe, expect, it } from "vitest";
import {
  assertCacheName,
  cachePatternMatches,
  isAtticError,
  isValidCacheName,
  isValidCachePattern,
} from "@attic-ts/core";

// Cases from Attic's attic/src/cache.rs tests.
describe("cache names", () => {
  it.each(["valid-name", "Another_Valid_Name", "plan9", "username+cache", "a", "9", "x".repeat(50)])(
    "accepts %j",
    (name) => {
      expect(isValidCacheName(name)).toBe(true);
      expect(assertCacheName(name)).toBe(name);
    },
  );

  it.each([
    "",
    "not a valid name",
    "team-*",
    "这布盒里.webp",
    "-ers",
    "_cache",
    "+cache",
    "and-you-can-have-it-all-my-empire-of-dirt-i-will-let-you-down-i-will-make-you-hurt",
    "x".repeat(51),
    "trailing-newline\n",
    "dot.name",
    "caf\u00e9",
  ])("rejects %j", (name) => {
    expect(isValidCacheName(name)).toBe(false);
    let thrown: unknown;
    try {
      assertCacheName(name);
    } catch (err) {
      thrown = err;
    }
    expect(isAtticError(thrown)).toBe(true);
    expect((thrown as { code: string }).code).toBe("InvalidCacheName");
    expect((thrown as Error).message).toBe(`Invalid cache name "${name}"`);
  });
});

describe("cache name patterns", () => {
  it("validates patterns: names plus `*`, same length limit", () => {
    expect(isValidCachePattern("team-*")).toBe(true);
    expect(isValidCachePattern("*")).toBe(true);
    expect(isValidCachePattern("*-suffix")).toBe(true);
    expect(isValidCachePattern("alice+*")).toBe(true);
    expect(isValidCachePattern("no-wildcard")).toBe(true);
    expect(isValidCachePattern("*".repeat(50))).toBe(true);
    expect(isValidCachePattern("*".repeat(51))).toBe(false);
    expect(isValidCachePattern("*-but-normal-restrictions-still-apply!!!")).toBe(false);
    expect(isValidCachePattern("team-?")).toBe(false);
    expect(isValidCachePattern("")).toBe(false);
    expect(isValidCachePattern("-*")).toBe(false);
  });

  it("`team-*` matches team- and team-abc, not abc-team", () => {
    expect(cachePatternMatches("team-*", "team-")).toBe(true);
    expect(cachePatternMatches("team-*", "team-abc")).toBe(true);
    expect(cachePatternMatches("team-*", "abc-team")).toBe(false);
    expect(cachePatternMatches("team-*", "team")).toBe(false);
  });

  it("a pattern without `*` matches only itself", () => {
    expect(cachePatternMatches("no-wildcard", "no-wildcard")).toBe(true);
    expect(cachePatternMatches("no-wildcard", "no-wildcard-xxx")).toBe(false);
    expect(cachePatternMatches("no-wildcard", "xxx-no-wildcard")).toBe(false);
  });

  it("`*` matches anything", () => {
    expect(cachePatternMatches("*", "literally-anything")).toBe(true);
    expect(cachePatternMatches("*", "")).toBe(true);
  });

  it("matches case-sensitively, with `*` anywhere and more than once", () => {
    expect(cachePatternMatches("Team-*", "team-a")).toBe(false);
    expect(cachePatternMatches("*-ci", "alice-ci")).toBe(true);
    expect(cachePatternMatches("*-ci", "alice-ci-x")).toBe(false);
    expect(cachePatternMatches("a*b*c", "aXXbYYc")).toBe(true);
    expect(cachePatternMatches("a*b*c", "abc")).toBe(true);
    expect(cachePatternMatches("a*b*c", "acb")).toBe(false);
    expect(cachePatternMatches("a*bc", "abcbc")).toBe(true);
    expect(cachePatternMatches("a**", "a")).toBe(true);
    // `+` is a literal, not a regex quantifier.
    expect(cachePatternMatches("alice+*", "alice+ci")).toBe(true);
    expect(cachePatternMatches("alice+*", "aliceeee+ci")).toBe(false);
  });

  it("stays fast on adversarial patterns", () => {
    const start = performance.now();
    expect(cachePatternMatches("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a".repeat(50))).toBe(false);
    expect(performance.now() - start).toBeLessThan(100);
  });
});
