import { createHmac, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canDiscover, emptyPermission, isAtticError, permissionFor, type CachePermission, type Principal } from "@attic-ts/core";
import { JwtTokenAuthority, PUBKEY_ONLY_MESSAGE, hs256SecretFromBase64 } from "@attic-ts/token";
import {
  ATTIC_HS256_SECRET_BASE64,
  ATTIC_HS256_TOKEN,
  ATTIC_RS256_SECRET_BASE64,
  ATTIC_RS256_TOKEN,
  ATTIC_TEST_CACHES,
  INVALID_UTF8_SECRET_BASE64,
  NS,
  fixedClock,
  generateRsa,
  handMadeHs256,
} from "./fixtures.ts";

// After the iat of the upstream vectors (1728232996).
const NOW = 1_750_000_000;
const clock = fixedClock(NOW);
const perm = (bits: Partial<CachePermission>): CachePermission => ({ ...emptyPermission(), ...bits });
const b64 = (s: string) => Buffer.from(s).toString("base64");
const secret = hs256SecretFromBase64(INVALID_UTF8_SECRET_BASE64);

function hs256(extra: Partial<ConstructorParameters<typeof JwtTokenAuthority>[0]> = {}): JwtTokenAuthority {
  return new JwtTokenAuthority({ signing: { kind: "hs256", secret }, clock, ...extra });
}

/** Attic's test claim (with nbf 0), plus overrides; JSON text in this exact key order. */
function claimJson(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ sub: "meow", exp: 4102324986, nbf: 0, ...overrides, [NS]: { caches: ATTIC_TEST_CACHES } });
}

/** Attic's token test assertions (token/src/tests.rs), for one way of decoding the token. */
async function checkAtticTestToken(decode: () => Promise<Principal | null>): Promise<void> {
  let wasEverWrong = false;
  for (let i = 0; i <= 1000; i++) {
    const decoded = await decode();
    const allCi = decoded ? permissionFor(decoded, "all-ci-abc") : emptyPermission();
    // all-* (pull) is listed before all-ci-* (push): the first match must win every time.
    if (!allCi.pull || allCi.push) wasEverWrong = true;
  }
  expect(wasEverWrong).toBe(false);

  const decoded = (await decode())!;
  expect(decoded.sub).toBe("meow");
  expect(permissionFor(decoded, "cache-rw")).toEqual(perm({ pull: true, push: true }));
  expect(permissionFor(decoded, "cache-ro")).toEqual(perm({ pull: true }));
  expect(permissionFor(decoded, "team-xyz")).toEqual(perm({ pull: true, push: true, createCache: true }));
  expect(canDiscover(permissionFor(decoded, "forbidden-cache"))).toBe(false);
}

describe("Attic's token tests", () => {
  it("HS256 with an invalid-UTF-8 secret, token built without jose", async () => {
    const token = handMadeHs256(secret, claimJson({ iat: 1728232996 }));
    await checkAtticTestToken(() => hs256().verify(token));
  });

  it("HS256 token produced by jwt-cli (Attic's older vector)", async () => {
    const authority = JwtTokenAuthority.fromConfig({ signing: { "token-hs256-secret-base64": ATTIC_HS256_SECRET_BASE64 } });
    const principal = await authority.verify(ATTIC_HS256_TOKEN);
    expect(principal?.grants.map(([p]) => p)).toEqual(["all-*", "all-ci-*", "cache-ro", "cache-rw", "team-*"]);
    await checkAtticTestToken(() => authority.verify(ATTIC_HS256_TOKEN));
  });

  it("RS256 token produced by jwt-cli with Attic's PKCS#1 key", async () => {
    const authority = JwtTokenAuthority.fromConfig({ signing: { "token-rs256-secret-base64": ATTIC_RS256_SECRET_BASE64 } });
    await checkAtticTestToken(() => authority.verify(ATTIC_RS256_TOKEN));
    // The same token with only the public key (SPKI and PKCS#1 PEM).
    const pub = createPublicKey(Buffer.from(ATTIC_RS256_SECRET_BASE64, "base64").toString());
    for (const type of ["spki", "pkcs1"] as const) {
      const pubkeyOnly = JwtTokenAuthority.fromConfig({
        signing: { "token-rs256-pubkey-base64": b64(pub.export({ type, format: "pem" }) as string) },
      });
      expect((await pubkeyOnly.verify(ATTIC_RS256_TOKEN))?.sub).toBe("meow");
    }
  });

  it("RS256 with a generated PKCS#1 key: mint, then verify", async () => {
    const { secretBase64 } = generateRsa();
    const authority = JwtTokenAuthority.fromConfig({ signing: { "token-rs256-secret-base64": secretBase64 } }, { clock });
    const token = await authority.mint({
      sub: "meow",
      validitySeconds: 3600,
      grants: [
        ["all-*", { pull: true }],
        ["all-ci-*", { push: true }],
        ["cache-rw", { pull: true, push: true }],
        ["cache-ro", { pull: true }],
        ["team-*", { pull: true, push: true, createCache: true }],
      ],
    });
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toEqual({ alg: "RS256", typ: "JWT" });
    await checkAtticTestToken(() => authority.verify(token));
  });
});

describe("time checks (zero tolerance)", () => {
  const verify = (claims: Record<string, unknown>) => hs256().verify(handMadeHs256(secret, claimJson(claims)));

  it("rejects a token expired by 1 s and accepts one expiring now", async () => {
    expect(await verify({ exp: NOW - 1 })).toBeNull();
    expect(await verify({ exp: NOW })).not.toBeNull();
    const halfPast = new JwtTokenAuthority({ signing: { kind: "hs256", secret }, clock: fixedClock(NOW + 0.5) });
    expect(await halfPast.verify(handMadeHs256(secret, claimJson({ exp: NOW })))).toBeNull();
  });

  it("rejects nbf 1 s in the future and accepts nbf = now", async () => {
    expect(await verify({ nbf: NOW + 1 })).toBeNull();
    expect(await verify({ nbf: NOW })).not.toBeNull();
  });

  it("rejects iat in the future", async () => {
    expect(await verify({ iat: NOW + 1 })).toBeNull();
    expect(await verify({ iat: NOW })).not.toBeNull();
  });

  it("does not require exp, nbf or iat", async () => {
    const token = handMadeHs256(secret, JSON.stringify({ [NS]: { caches: { a: { r: 1 } } } }));
    expect(await hs256().verify(token)).toEqual({ sub: null, grants: [["a", perm({ pull: true })]] });
  });

  it("rejects timestamps of the wrong type", async () => {
    expect(await verify({ exp: "4102324986" })).toBeNull();
    expect(await verify({ nbf: -1 })).toBeNull();
    expect(await verify({ iat: null })).toBeNull();
  });
});

describe("signature and algorithm", () => {
  it("rejects a token signed with another key", async () => {
    const other = hs256SecretFromBase64(ATTIC_HS256_SECRET_BASE64);
    expect(await hs256().verify(handMadeHs256(other, claimJson()))).toBeNull();
  });

  it("rejects a tampered payload", async () => {
    const [h, , s] = handMadeHs256(secret, claimJson()).split(".");
    const forged = Buffer.from(claimJson({ sub: "root" })).toString("base64url");
    expect(await hs256().verify(`${h}.${forged}.${s}`)).toBeNull();
  });

  it("rejects HS256 tokens at an RS256 authority, also when keyed with the public key PEM", async () => {
    const { secretBase64, publicPem } = generateRsa();
    const rs = JwtTokenAuthority.fromConfig({ signing: { "token-rs256-secret-base64": secretBase64 } }, { clock });
    expect(await rs.verify(handMadeHs256(secret, claimJson()))).toBeNull();
    // The classic algorithm-confusion forgery: HMAC keyed with the public key text.
    expect(await rs.verify(handMadeHs256(Buffer.from(publicPem), claimJson()))).toBeNull();
  });

  it("rejects RS256 tokens at an HS256 authority", async () => {
    expect(await hs256().verify(ATTIC_RS256_TOKEN)).toBeNull();
  });

  it("rejects alg none, a wrong typ and garbage without throwing", async () => {
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(claimJson()).toString("base64url")}.`;
    expect(await hs256().verify(none)).toBeNull();
    expect(await hs256().verify(handMadeHs256(secret, claimJson(), '{"alg":"HS256","typ":"JWS"}'))).toBeNull();
    expect(await hs256().verify(handMadeHs256(secret, claimJson(), '{"alg":"HS256","typ":"at+jwt"}'))).not.toBeNull();
    expect(await hs256().verify(handMadeHs256(secret, claimJson(), '{"alg":"HS256"}'))).not.toBeNull();
    for (const junk of ["", "abc", "a.b.c", "a.b", "....", "\u0000"]) expect(await hs256().verify(junk)).toBeNull();
    expect(await hs256().verify(undefined as unknown as string)).toBeNull();
    expect(await hs256().verify(handMadeHs256(secret, "[1,2]"))).toBeNull();
    expect(await hs256().verify(handMadeHs256(secret, "not json"))).toBeNull();
  });

  it("rejects a token without the Attic claim", async () => {
    expect(await hs256().verify(handMadeHs256(secret, JSON.stringify({ sub: "a", exp: NOW + 10 })))).toBeNull();
    expect(await hs256().verify(handMadeHs256(secret, JSON.stringify({ [NS]: {} })))).toBeNull();
  });
});

describe("bound issuer and audiences", () => {
  const token = (claims: Record<string, unknown>) => handMadeHs256(secret, claimJson(claims));

  it("checks iss against token-bound-issuer", async () => {
    const a = hs256({ boundIssuer: "https://attic.example" });
    expect(await a.verify(token({ iss: "https://attic.example" }))).not.toBeNull();
    expect(await a.verify(token({ iss: "https://evil.example" }))).toBeNull();
    expect(await a.verify(token({}))).toBeNull();
    // Without a bound issuer any iss is fine.
    expect(await hs256().verify(token({ iss: "anything" }))).not.toBeNull();
  });

  it("needs aud to intersect token-bound-audiences", async () => {
    const a = hs256({ boundAudiences: ["cache", "ci"] });
    expect(await a.verify(token({ aud: "ci" }))).not.toBeNull();
    expect(await a.verify(token({ aud: ["other", "cache"] }))).not.toBeNull();
    expect(await a.verify(token({ aud: ["other"] }))).toBeNull();
    expect(await a.verify(token({ aud: "other" }))).toBeNull();
    expect(await a.verify(token({ aud: [] }))).toBeNull();
    expect(await a.verify(token({}))).toBeNull();
    expect(await hs256({ boundAudiences: [] }).verify(token({ aud: ["ci"] }))).toBeNull();
    expect(await hs256().verify(token({ aud: ["whatever"] }))).not.toBeNull();
    expect(await hs256().verify(token({ aud: 5 }))).toBeNull();
  });

  it("adds the bound issuer and audiences to minted tokens, which then verify", async () => {
    const a = hs256({ boundIssuer: "iss", boundAudiences: ["x", "y"] });
    const spec = { sub: "s", validitySeconds: 60, grants: [["c", { pull: true }]] as const };
    expect(a.claimsFor(spec)).toMatchObject({ iss: "iss", aud: ["x", "y"] });
    expect(await a.verify(await a.mint(spec))).not.toBeNull();
    expect(await hs256({ boundIssuer: "other" }).verify(await a.mint(spec))).toBeNull();
  });
});

describe("pubkey-only", () => {
  it("verifies RS256 tokens and refuses to mint", async () => {
    const { secretBase64, publicPem } = generateRsa();
    const signer = JwtTokenAuthority.fromConfig({ signing: { "token-rs256-secret-base64": secretBase64 } }, { clock });
    const verifier = JwtTokenAuthority.fromConfig({ signing: { "token-rs256-pubkey-base64": b64(publicPem) } }, { clock });
    expect(signer.canSign).toBe(true);
    expect(verifier.canSign).toBe(false);
    const spec = { sub: "ci", validitySeconds: 60, grants: [["team-*", { push: true }]] as const };
    const principal = await verifier.verify(await signer.mint(spec));
    expect(principal).toEqual({ sub: "ci", grants: [["team-*", perm({ push: true })]] });
    await expect(verifier.mint(spec)).rejects.toThrow(PUBKEY_ONLY_MESSAGE);
    await verifier.mint(spec).catch((err: unknown) => expect(isAtticError(err)).toBe(true));
    // claimsFor (for --dump-claims) still works without a signing key.
    expect(verifier.claimsFor(spec).sub).toBe("ci");
  });
});

describe("minting", () => {
  const spec = {
    sub: "alice",
    validitySeconds: 31_536_000,
    grants: [
      ["cache-rw", { pull: true, push: true }],
      ["cache-ro", { pull: true }],
      ["team-*", { pull: true, push: true, createCache: true }],
    ] as const,
  };

  it("claimsFor matches Attic's documented shape and field order", () => {
    const a = new JwtTokenAuthority({ signing: { kind: "hs256", secret }, clock: fixedClock(NOW + 0.9) });
    expect(JSON.stringify(a.claimsFor(spec))).toBe(
      `{"exp":${NOW + 31_536_000},"nbf":${NOW},"sub":"alice","${NS}":{"caches":` +
        `{"cache-rw":{"r":1,"w":1},"cache-ro":{"r":1},"team-*":{"r":1,"w":1,"cc":1}}}}`,
    );
  });

  it("produces a wire-format HS256 JWT checkable without jose", async () => {
    const token = await hs256().mint(spec);
    const [h, p, s] = token.split(".");
    expect(Buffer.from(h!, "base64url").toString()).toBe('{"alg":"HS256","typ":"JWT"}');
    expect(JSON.parse(Buffer.from(p!, "base64url").toString())).toEqual(hs256().claimsFor(spec));
    const mac = createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url");
    expect(s).toBe(mac);
    expect(token).not.toContain("=");
    // And the hand-made encoding of the same claims is byte-identical.
    expect(token).toBe(handMadeHs256(secret, JSON.stringify(hs256().claimsFor(spec)), '{"alg":"HS256","typ":"JWT"}'));
  });

  it("mints tokens that expire after the validity", async () => {
    const token = await hs256().mint({ ...spec, validitySeconds: 10 });
    expect(await new JwtTokenAuthority({ signing: { kind: "hs256", secret }, clock: fixedClock(NOW + 10) }).verify(token)).not.toBeNull();
    expect(await new JwtTokenAuthority({ signing: { kind: "hs256", secret }, clock: fixedClock(NOW + 11) }).verify(token)).toBeNull();
    expect(await new JwtTokenAuthority({ signing: { kind: "hs256", secret }, clock: fixedClock(NOW - 1) }).verify(token)).toBeNull();
  });

  it("rejects an invalid pattern when minting", async () => {
    await expect(hs256().mint({ sub: "a", validitySeconds: 1, grants: [["bad pattern", { pull: true }]] })).rejects.toThrow(
      /Invalid cache name/,
    );
  });
});

describe("fromConfig", () => {
  it("requires a signing key", () => {
    expect(() => JwtTokenAuthority.fromConfig({})).toThrow(/ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64/);
  });
});
