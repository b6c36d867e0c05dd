import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPublicKey, createSecretKey } from "node:crypto";
import { compactVerify } from "jose";
import {
  HS256_SECRET,
  atticadm,
  buildDist,
  decodeJwt,
  rsaKeysBase64,
  sandbox,
  serverToml,
  writeConfig,
  type Sandbox,
} from "./cli-harness.ts";

const NAMESPACE = "https://jwt.attic.rs/v1";
const SIGNING_VARIABLES = {
  pubkey: "ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64",
  rs256: "ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64",
  hs256: "ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64",
} as const;

describe("atticadm make-token (real process)", { timeout: 180_000 }, () => {
  let box: Sandbox;
  let hsConfig: string;
  let keys: { secret: string; pubkey: string };

  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
    hsConfig = await writeConfig(box.dir, serverToml(box.dir), "hs.toml");
    keys = rsaKeysBase64();
  });
  afterAll(async () => box?.cleanup());

  const make = (config: string, args: string[], env: NodeJS.ProcessEnv = box.env) =>
    atticadm(["-f", config, "make-token", "--sub", "alice", "--validity", "1 month", ...args], env);

  it("--dump-claims prints Attic's claims: exp = nbf + validity, grants grouped by flag order", async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await make(hsConfig, [
      "--dump-claims",
      "--push", "b", "--pull", "a", "--destroy-cache", "c", "--pull", "b", "--create-cache", "a",
      "--delete", "d", "--configure-cache", "e", "--configure-cache-retention", "f", "--push", "team-*",
    ]);
    const after = Math.floor(Date.now() / 1000);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const claims = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(claims)).toEqual(["exp", "nbf", "sub", NAMESPACE]);
    expect(claims.sub).toBe("alice");
    const nbf = claims.nbf as number;
    expect(nbf).toBeGreaterThanOrEqual(before);
    expect(nbf).toBeLessThanOrEqual(after);
    // humantime's month is 30.44 days.
    expect(claims.exp).toBe(nbf + 2_630_016);
    const caches = (claims[NAMESPACE] as { caches: Record<string, unknown> }).caches;
    expect(Object.keys(caches)).toEqual(["a", "b", "team-*", "d", "e", "f", "c"]);
    expect(caches).toEqual({
      a: { r: 1, cc: 1 },
      b: { r: 1, w: 1 },
      "team-*": { w: 1 },
      d: { d: 1 },
      e: { cr: 1 },
      f: { cq: 1 },
      c: { cd: 1 },
    });
    // Attic writes the bits in the order r w d cc cr cq cd.
    expect(Object.keys(caches.a as object)).toEqual(["r", "cc"]);
  });

  it("prints an HS256 JWT signed with the configured secret", async () => {
    const result = await make(hsConfig, ["--pull", "*"]);
    expect(result.code, result.stderr).toBe(0);
    const token = result.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const { payload, protectedHeader } = await compactVerify(token, createSecretKey(Buffer.from(HS256_SECRET, "base64")));
    expect(protectedHeader).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = JSON.parse(Buffer.from(payload).toString()) as Record<string, unknown>;
    expect(claims[NAMESPACE]).toEqual({ caches: { "*": { r: 1 } } });
  });

  it("signs RS256 with token-rs256-secret-base64 and refuses to sign with a public key only", async () => {
    const rs = await writeConfig(box.dir, serverToml(box.dir, { signing: `token-rs256-secret-base64 = "${keys.secret}"` }), "rs.toml");
    const signed = await make(rs, ["--push", "x"]);
    expect(signed.code, signed.stderr).toBe(0);
    const publicKey = createPublicKey(Buffer.from(keys.pubkey, "base64").toString());
    const { protectedHeader } = await compactVerify(signed.stdout.trim(), publicKey);
    expect(protectedHeader.alg).toBe("RS256");

    const pub = await writeConfig(box.dir, serverToml(box.dir, { signing: `token-rs256-pubkey-base64 = "${keys.pubkey}"` }), "pub.toml");
    const refused = await make(pub, ["--push", "x"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("Pubkey-only JWT authentication cannot create signed JWTs");
    const dumped = await make(pub, ["--push", "x", "--dump-claims"]);
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(JSON.parse(dumped.stdout)[NAMESPACE]).toEqual({ caches: { x: { w: 1 } } });
  });

  it("adds the bound issuer and audiences from [jwt]", async () => {
    const text = serverToml(box.dir, { signing: null }) +
      `\n[jwt]\ntoken-bound-issuer = "my-issuer"\ntoken-bound-audiences = ["aud1", "aud2"]\n[jwt.signing]\ntoken-hs256-secret-base64 = "${HS256_SECRET}"\n`;
    const bound = await writeConfig(box.dir, text, "bound.toml");
    const result = await make(bound, ["--pull", "a", "--dump-claims"]);
    expect(result.code, result.stderr).toBe(0);
    const claims = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(claims)).toEqual(["exp", "nbf", "iss", "sub", "aud", NAMESPACE]);
    expect(claims.iss).toBe("my-issuer");
    expect(claims.aud).toEqual(["aud1", "aud2"]);
  });

  it("needs neither the database nor the storage", async () => {
    const text = serverToml(box.dir)
      .replace(/^url = .*$/m, 'url = "sqlite:///nonexistent/dir/server.db"')
      .replace(/^path = .*$/m, 'path = "/nonexistent/storage"');
    const config = await writeConfig(box.dir, text, "unreachable.toml");
    const result = await make(config, ["--pull", "a"]);
    expect(result.code, result.stderr).toBe(0);
    expect(decodeJwt(result.stdout).payload.sub).toBe("alice");
  });

  it("reports usage errors with exit 2", async () => {
    const cases: string[][] = [
      ["-f", hsConfig],
      ["-f", hsConfig, "make-token", "--validity", "1d"],
      ["-f", hsConfig, "make-token", "--sub", "a"],
      ["-f", hsConfig, "make-token", "--sub", "a", "--validity", "forever"],
      ["-f", hsConfig, "make-token", "--sub", "a", "--validity", "1d", "--pull", "bad?name"],
      ["-f", hsConfig, "make-token", "--sub", "a", "--validity", "1d", "--frobnicate"],
      ["-f", hsConfig, "mint-token", "--sub", "a", "--validity", "1d"],
    ];
    for (const args of cases) {
      const result = await atticadm(args, box.env);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain("Usage: atticadm");
    }
  });

  it("uses the ATTIC_SERVER_TOKEN_* variables when [jwt.signing] is absent, in Attic's priority", async () => {
    const noSigning = await writeConfig(box.dir, serverToml(box.dir, { signing: null }), "no-signing.toml");
    const alg = async (env: Record<string, string>) => {
      const result = await make(noSigning, ["--pull", "a"], { ...box.env, ...env });
      return { ...result, alg: result.code === 0 ? decodeJwt(result.stdout).header.alg : undefined };
    };
    expect((await alg({ [SIGNING_VARIABLES.hs256]: HS256_SECRET })).alg).toBe("HS256");
    expect((await alg({ [SIGNING_VARIABLES.hs256]: HS256_SECRET, [SIGNING_VARIABLES.rs256]: keys.secret })).alg).toBe("RS256");
    // An empty variable counts as unset.
    expect((await alg({ [SIGNING_VARIABLES.pubkey]: "", [SIGNING_VARIABLES.hs256]: HS256_SECRET })).alg).toBe("HS256");
    // The public key comes first: it wins over both secrets, so nothing can be signed.
    const pubFirst = await alg({
      [SIGNING_VARIABLES.pubkey]: keys.pubkey,
      [SIGNING_VARIABLES.rs256]: keys.secret,
      [SIGNING_VARIABLES.hs256]: HS256_SECRET,
    });
    expect(pubFirst.code).toBe(1);
    expect(pubFirst.stderr).toContain("Pubkey-only JWT authentication cannot create signed JWTs");

    // [jwt.signing] in the file wins over every variable.
    expect((await alg({ [SIGNING_VARIABLES.rs256]: keys.secret })).alg).toBe("RS256");
    const fromFile = await make(hsConfig, ["--pull", "a"], { ...box.env, [SIGNING_VARIABLES.pubkey]: keys.pubkey });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(decodeJwt(fromFile.stdout).header.alg).toBe("HS256");

    const none = await make(noSigning, ["--pull", "a"]);
    expect(none.code).toBe(78);
    for (const name of [...Object.values(SIGNING_VARIABLES), "[jwt.signing]", noSigning]) expect(none.stderr).toContain(name);
  });
});
