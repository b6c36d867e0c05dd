import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * An XDG base directory: the variable when it holds an absolute path (the spec says relative
 * values are invalid and must be ignored), else `~/<fallback>`.
 */
function xdgDir(env: Env, variable: string, fallback: string): string {
  const value = env[variable];
  if (value && isAbsolute(value)) return value;
  return join(env.HOME || homedir(), fallback);
}

/** `$XDG_CONFIG_HOME/attic` (default `~/.config/attic`): where Attic keeps `server.toml`. */
export function atticConfigDir(env: Env): string {
  return join(xdgDir(env, "XDG_CONFIG_HOME", ".config"), "attic");
}

/** `$XDG_DATA_HOME/attic` (default `~/.local/share/attic`): the first-run database and storage. */
export function atticDataDir(env: Env): string {
  return join(xdgDir(env, "XDG_DATA_HOME", ".local/share"), "attic");
}

/** The config file Attic reads when neither `-f` nor `ATTIC_SERVER_CONFIG_BASE64` is given. */
export function defaultServerConfigPath(env: Env): string {
  return join(atticConfigDir(env), "server.toml");
}
