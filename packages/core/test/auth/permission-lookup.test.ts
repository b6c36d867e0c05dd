import { describe, expect, it } from "vitest";
import {
  ANONYMOUS,
  canDiscover,
  emptyPermission,
  permissionFor,
  withPublicGrant,
  type CachePermission,
  type Principal,
} from "@attic-ts/core";

function perm(bits: Partial<CachePermission>): CachePermission {
  return { ...emptyPermission(), ...bits };
}

// Attic's token test claim, in claim order.
const principal: Principal = {
  sub: "meow",
  grants: [
    ["all-*", perm({ pull: true })],
    ["all-ci-*", perm({ push: true })],
    ["cache-rw", perm({ pull: true, push: true })],
    ["cache-ro", perm({ pull: true })],
    ["team-*", perm({ pull: true, push: true, createCache: true })],
  ],
};

describe("permissionFor", () => {
  it("uses the first matching pattern in claim order, never merged", () => {
    const p = permissionFor(principal, "all-ci-abc");
    expect(p).toEqual(perm({ pull: true }));
  });

  it("reverses when the claim order reverses", () => {
    const reversed: Principal = { sub: "x", grants: [principal.grants[1]!, principal.grants[0]!] };
    expect(permissionFor(reversed, "all-ci-abc")).toEqual(perm({ push: true }));
  });

  it("prefers an exact key wherever it appears", () => {
    const p: Principal = {
      sub: "x",
      grants: [
        ["*", perm({ pull: true })],
        ["special", perm({ destroyCache: true })],
      ],
    };
    expect(permissionFor(p, "special")).toEqual(perm({ destroyCache: true }));
    expect(permissionFor(p, "other")).toEqual(perm({ pull: true }));
  });

  it("answers rw/ro/team grants and nothing for unknown caches", () => {
    expect(permissionFor(principal, "cache-rw")).toEqual(perm({ pull: true, push: true }));
    expect(permissionFor(principal, "cache-ro")).toEqual(perm({ pull: true }));
    expect(permissionFor(principal, "team-xyz")).toEqual(perm({ pull: true, push: true, createCache: true }));
    const none = permissionFor(principal, "forbidden-cache");
    expect(none).toEqual(emptyPermission());
    expect(canDiscover(none)).toBe(false);
    expect(permissionFor(ANONYMOUS, "anything")).toEqual(emptyPermission());
  });

  it("returns a copy, so callers cannot change the principal", () => {
    const p = permissionFor(principal, "cache-ro");
    p.push = true;
    expect(permissionFor(principal, "cache-ro").push).toBe(false);
  });
});

describe("withPublicGrant", () => {
  it("grants pull on public caches only", () => {
    const none = emptyPermission();
    expect(withPublicGrant(none, true)).toEqual(perm({ pull: true }));
    expect(canDiscover(withPublicGrant(none, true))).toBe(true);
    expect(withPublicGrant(none, false)).toEqual(none);
    expect(none.pull).toBe(false);
    expect(withPublicGrant(perm({ push: true }), true)).toEqual(perm({ pull: true, push: true }));
  });
});
