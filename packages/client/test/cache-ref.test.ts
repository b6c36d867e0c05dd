import { describe, expect, it } from "vitest";
import { parseCacheRef } from "../src/cache-ref.ts";

describe("cache references", () => {
  it("parses a bare cache name as the default server's", () => {
    expect(parseCacheRef("main")).toEqual({ server: undefined, cache: "main" });
    expect(parseCacheRef("alice+ci")).toEqual({ server: undefined, cache: "alice+ci" });
  });

  it("parses server:cache", () => {
    expect(parseCacheRef("prod:main")).toEqual({ server: "prod", cache: "main" });
  });

  it("rejects invalid server or cache names", () => {
    for (const bad of ["", ":main", "prod:", "a:b:c", "-ers", "not valid", "team-*", "x".repeat(51), "prod:ü"]) {
      expect(() => parseCacheRef(bad), bad).toThrow(/Invalid (cache|server) name/);
    }
    expect(parseCacheRef("x".repeat(50)).cache).toHaveLength(50);
  });
});
