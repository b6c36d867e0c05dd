import { CLOCK, TOKEN_AUTHORITY, definePlugin, jwtConfigSchema, systemClock, type Clock } from "@attic-ts/core";
import { JwtTokenAuthority } from "./jwt-token-authority.ts";

export * from "./claims.ts";
export * from "./signing-keys.ts";
export * from "./jwt-token-authority.ts";
export * from "./authorization-header.ts";
export * from "./mint-token.ts";

/**
 * The `[jwt]` auth plugin: binds TOKEN_AUTHORITY to a {@link JwtTokenAuthority}. The host must
 * resolve the `ATTIC_SERVER_TOKEN_*` variables into `[jwt.signing]` before registering; without
 * a signing key, `register` throws a ConfigError naming them.
 */
export const jwtAuthPlugin = definePlugin({
  kind: "auth",
  type: "jwt",
  configSchema: jwtConfigSchema,
  register(container, config) {
    // Use the host's clock when it bound one (tests do), so expiry follows it.
    const clock: Clock = container.isRegistered(CLOCK, true) ? container.resolve(CLOCK) : systemClock;
    container.registerInstance(TOKEN_AUTHORITY, JwtTokenAuthority.fromConfig(config, { clock }));
  },
});

export default jwtAuthPlugin;
