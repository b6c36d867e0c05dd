import { describe, expect, it } from "vitest";
import { emptyPermission, isAtticError, permissionFor, type CachePermission } from "@attic-ts/core";
import { CLAIM_NAMESPACE, parseAtticClaims, serializeGrants } from "@attic-ts/token";
import { ATTIC_TEST_CACHES, NS } from "./fixtures.ts";

const perm = (bits: Partial<CachePermission>): CachePermission => ({ ...emptyPermission(), ...bits });

describe("parseAtticClaims", () => {
  it("reads sub and grants in claim order", () => {
    const principal = parseAtticClaims({ sub: "meow", [NS]: { caches: ATTIC_TEST_CACHES } });
    expect(CLAIM_NAMESPACE).toBe(NS);
    expect(principal).toEqual({
      sub: "meow",
      grants: [
        ["all-*", perm({ pull: true })],
        ["all-ci-*", perm({ push: true })],
        ["cache-rw", perm({ pull: true, push: true })],
        ["cache-ro", perm({ pull: true })],
        ["team-*", perm({ pull: true, push: true, createCache: true })],
      ],
    });
  });

  it("maps all seven bits and ignores unknown keys", () => {
    const principal = parseAtticClaims({
      [NS]: { caches: { "*": { r: 1, w: 1, d: 1, cc: 1, cr: 1, cq: 1, cd: 1, zz: 7 }, x: { r: 0 } }, other: true },
    });
    expect(principal?.sub).toBeNull();
    expect(principal?.grants).toEqual([
      ["*", { pull: true, push: true, delete: true, createCache: true, configureCache: true, configureCacheRetention: true, destroyCache: true }],
      ["x", emptyPermission()],
    ]);
  });

  it.each([
    ["no namespace", { sub: "a" }],
    ["namespace not an object", { [NS]: "x" }],
    ["no caches", { [NS]: {} }],
    ["caches is an array", { [NS]: { caches: [] } }],
    ["caches is null", { [NS]: { caches: null } }],
    ["bit is true", { [NS]: { caches: { a: { r: true } } } }],
    ["bit is 2", { [NS]: { caches: { a: { r: 2 } } } }],
    ["bit is null", { [NS]: { caches: { a: { w: null } } } }],
    ["bit is a string", { [NS]: { caches: { a: { r: "1" } } } }],
    ["permission not an object", { [NS]: { caches: { a: 1 } } }],
    ["invalid pattern", { [NS]: { caches: { "bad name": { r: 1 } } } }],
    ["pattern with ?", { [NS]: { caches: { "team-?": { r: 1 } } } }],
    ["sub not a string", { sub: 5, [NS]: { caches: {} } }],
    ["payload is an array", [1]],
    ["payload is null", null],
  ])("returns null when %s", (_label, payload) => {
    expect(parseAtticClaims(payload)).toBeNull();
  });

  it("keeps wildcard order although JSON.parse moves integer-like keys first", () => {
    const json = `{"${NS}":{"caches":{"team-*":{"w":1},"*":{"r":1},"123":{"cd":1},"t*":{"cc":1}}}}`;
    const payload = JSON.parse(json) as Record<string, { caches: object }>;
    // The JavaScript quirk itself: "123" is now first.
    expect(Object.keys(payload[NS]!.caches)).toEqual(["123", "team-*", "*", "t*"]);
    const principal = parseAtticClaims(payload)!;
    expect(principal.grants.map(([p]) => p)).toEqual(["123", "team-*", "*", "t*"]);
    // An integer-like key has no `*`: it only ever matches exactly, and exact keys win anyway.
    expect(permissionFor(principal, "123")).toEqual(perm({ destroyCache: true }));
    expect(permissionFor(principal, "1234")).toEqual(perm({ pull: true }));
    // Wildcards keep their claim order: team-* before * before t*.
    expect(permissionFor(principal, "team-a")).toEqual(perm({ push: true }));
    expect(permissionFor(principal, "tx")).toEqual(perm({ pull: true }));
  });
});

describe("serializeGrants", () => {
  it("writes only true bits as 1, in Attic's order r w d cc cr cq cd", () => {
    const claim = serializeGrants([
      ["all", { destroyCache: true, pull: true, configureCacheRetention: true, push: false, delete: true, createCache: true, configureCache: true }],
      ["none", { pull: false }],
    ]);
    expect(JSON.stringify(claim)).toBe('{"caches":{"all":{"r":1,"d":1,"cc":1,"cr":1,"cq":1,"cd":1},"none":{}}}');
  });

  it("merges a repeated pattern into its first position, like make-token", () => {
    const claim = serializeGrants([
      ["a-*", { pull: true }],
      ["b", { push: true }],
      ["a-*", { push: true }],
    ]);
    expect(JSON.stringify(claim)).toBe('{"caches":{"a-*":{"r":1,"w":1},"b":{"w":1}}}');
  });

  it("round-trips through parseAtticClaims", () => {
    const grants: Array<[string, CachePermission]> = [
      ["x-*", perm({ pull: true, configureCache: true })],
      ["*", perm({ push: true })],
    ];
    const payload = JSON.parse(JSON.stringify({ sub: "s", [NS]: serializeGrants(grants) }));
    expect(parseAtticClaims(payload)).toEqual({ sub: "s", grants });
  });

  it("rejects invalid patterns and unknown permission names", () => {
    let err: unknown;
    try {
      serializeGrants([["not valid!", { pull: true }]]);
    } catch (e) {
      err = e;
    }
    expect(isAtticError(err) && err.code).toBe("InvalidCacheName");
    expect(() => serializeGrants([["ok", { read: true } as Partial<CachePermission>]])).toThrow(/unknown permission "read"/);
  });
});
