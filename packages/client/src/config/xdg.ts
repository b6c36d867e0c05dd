import { join } from "node:path";
import { ClientError } from "../errors.ts";

/**
 * `$XDG_CONFIG_HOME`, falling back to `$HOME/.config` as the XDG base directory spec (and
 * Attic's `xdg` crate) does. Relative values are ignored, as the spec requires.
 */
export function xdgConfigHome(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && xdg.startsWith("/")) return xdg;
  if (!env.HOME) throw new ClientError("Neither XDG_CONFIG_HOME nor HOME is set: cannot locate the configuration directory");
  return join(env.HOME, ".config");
}

/** `$XDG_CONFIG_HOME/attic/config.toml`. */
export function clientConfigPath(env: NodeJS.ProcessEnv): string {
  return join(xdgConfigHome(env), "attic", "config.toml");
}

/** `$XDG_CONFIG_HOME/nix/nix.conf`, the user's Nix configuration that `attic use` edits. */
export function nixConfPath(env: NodeJS.ProcessEnv): string {
  return join(xdgConfigHome(env), "nix", "nix.conf");
}

/** `$XDG_CONFIG_HOME/nix/netrc`, where `attic use` stores tokens for Nix. */
export function netrcPath(env: NodeJS.ProcessEnv): string {
  return join(xdgConfigHome(env), "nix", "netrc");
}
