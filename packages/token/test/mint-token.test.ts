import { describe, expect, it } from "vitest";
import { emptyPermission, isAtticError, permissionFor, type CachePermission } from "@attic-ts/core";
import { JwtTokenAuthority, mintToken } from "@attic-ts/token";
import { INVALID_UTF8_SECRET_BASE64, fixedClock, generateRsa } from "./fixtures.ts";

const NOW = 1_750_000_000;
const clock = fixedClock(NOW);
const perm = (bits: Partial<CachePermission>): CachePermission => ({ ...emptyPermission(), ...bits });
const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;

describe("mintToken", () => {
  it("mints an HS256 token the server verifies, with a humantime validity", async () => {
    const jwt = await mintToken({
      secretBase64: INVALID_UTF8_SECRET_BASE64,
      sub: "ci",
      validity: "1 month",
      grants: { "team-*": { pull: true, push: true }, "*": { pull: true } },
      clock,
    });
    const payload = payloadOf(jwt);
    expect(payload.nbf).toBe(NOW);
    expect(payload.exp).toBe(NOW + 2_630_016); // humantime's month: 30.44 days
    const server = JwtTokenAuthority.fromConfig({ signing: { "token-hs256-secret-base64": INVALID_UTF8_SECRET_BASE64 } }, { clock });
    const principal = (await server.verify(jwt))!;
    expect(principal.sub).toBe("ci");
    expect(permissionFor(principal, "team-a")).toEqual(perm({ pull: true, push: true }));
    expect(permissionFor(principal, "other")).toEqual(perm({ pull: true }));
  });

  it("mints an RS256 token with grants as pairs, issuer and audiences", async () => {
    const { secretBase64 } = generateRsa();
    const jwt = await mintToken({
      rs256PrivateKeyPemBase64: secretBase64,
      sub: "root",
      validity: 60,
      grants: [
        ["*", { pull: true, push: true, delete: true, createCache: true, configureCache: true, configureCacheRetention: true, destroyCache: true }],
      ],
      issuer: "me",
      audiences: ["attic"],
      clock,
    });
    expect(JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString()).alg).toBe("RS256");
    expect(payloadOf(jwt)).toMatchObject({ exp: NOW + 60, iss: "me", sub: "root", aud: ["attic"] });
    const server = JwtTokenAuthority.fromConfig(
      { "token-bound-issuer": "me", "token-bound-audiences": ["attic"], signing: { "token-rs256-secret-base64": secretBase64 } },
      { clock },
    );
    const principal = await server.verify(jwt);
    expect(principal && Object.values(permissionFor(principal, "anything")).every(Boolean)).toBe(true);
  });

  it("needs exactly one key and a valid validity", async () => {
    const base = { sub: "a", validity: 1, grants: {} };
    for (const bad of [
      base,
      { ...base, secretBase64: INVALID_UTF8_SECRET_BASE64, rs256PrivateKeyPemBase64: "x" },
      { ...base, secretBase64: INVALID_UTF8_SECRET_BASE64, validity: "forever" },
      { ...base, secretBase64: INVALID_UTF8_SECRET_BASE64, validity: -1 },
      { ...base, secretBase64: "***" },
    ]) {
      const err = await mintToken(bad).catch((e: unknown) => e);
      expect(isAtticError(err) && err.code).toBe("ConfigError");
    }
    const err = await mintToken({ ...base, secretBase64: "***" }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain("secretBase64");
  });
});
