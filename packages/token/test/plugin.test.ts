import { describe, expect, it } from "vitest";
import { CLOCK, TOKEN_AUTHORITY, createRootContainer, isAtticError, noopLogger, resolve } from "@attic-ts/core";
import type { PluginContext } from "@attic-ts/core";
import jwtAuthPluginDefault, { jwtAuthPlugin, JwtTokenAuthority } from "@attic-ts/token";
import { INVALID_UTF8_SECRET_BASE64, fixedClock } from "./fixtures.ts";

const ctx = { logger: noopLogger } as unknown as PluginContext;

describe("jwtAuthPlugin", () => {
  it("is an auth plugin of type jwt whose schema is Attic's [jwt] table", () => {
    expect(jwtAuthPluginDefault).toBe(jwtAuthPlugin);
    expect(jwtAuthPlugin.kind).toBe("auth");
    expect(jwtAuthPlugin.type).toBe("jwt");
    const cfg = jwtAuthPlugin.configSchema.parse({
      "token-bound-issuer": "i",
      signing: { "token-hs256-secret-base64": INVALID_UTF8_SECRET_BASE64 },
    });
    expect(cfg["token-bound-issuer"]).toBe("i");
    expect(() => jwtAuthPlugin.configSchema.parse({ signing: {} })).toThrow();
  });

  it("binds TOKEN_AUTHORITY using the host's clock", async () => {
    const container = createRootContainer();
    container.registerInstance(CLOCK, fixedClock(2_000_000_000));
    const cfg = jwtAuthPlugin.configSchema.parse({ signing: { "token-hs256-secret-base64": INVALID_UTF8_SECRET_BASE64 } });
    jwtAuthPlugin.register(container, cfg, ctx);
    const authority = resolve(container, TOKEN_AUTHORITY);
    expect(authority).toBeInstanceOf(JwtTokenAuthority);
    expect(authority.claimsFor({ sub: "x", validitySeconds: 5, grants: [] })).toMatchObject({ nbf: 2_000_000_000, exp: 2_000_000_005 });
  });

  it("throws a ConfigError naming the env variables when no signing key is set", () => {
    const container = createRootContainer();
    let err: unknown;
    try {
      jwtAuthPlugin.register(container, jwtAuthPlugin.configSchema.parse({}), ctx);
    } catch (e) {
      err = e;
    }
    expect(isAtticError(err) && err.code).toBe("ConfigError");
    expect((err as Error).message).toMatch(/ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64.*\[jwt\.signing\]/);
  });
});
