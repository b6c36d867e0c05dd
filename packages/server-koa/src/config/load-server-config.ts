import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { parse as parseToml, TomlError } from "smol-toml";
import {
  ConfigError,
  engineConfigSchema,
  isAtticError,
  parseConfig,
  selectPlugins,
  type EngineConfig,
  type PluginDescriptor,
} from "@attic-ts/core";
import { decodeBase64Strict, jwtAuthPlugin, signingFromConfig } from "@attic-ts/token";
import { builtinPlugins } from "../plugins.ts";
import { MISSING_JWT_SIGNING_HELP, applyEnvOverrides, hasJwtSigning } from "./env-overrides.ts";
import { parseListenAddress } from "./listen-address.ts";
import { defaultServerConfigPath, type Env } from "./xdg-paths.ts";

/** The whole config as base64 TOML, used when no `-f` is given. */
export const CONFIG_BASE64_VARIABLE = "ATTIC_SERVER_CONFIG_BASE64";

/** Where the config comes from, in Attic's order: `-f`, the variable, then the XDG file. */
export type ServerConfigLocation =
  | { kind: "file"; path: string; /** True for `-f`; false for the XDG default. */ explicit: boolean }
  | { kind: "base64"; text: string };

export interface LoadServerConfigOptions {
  /** `-f/--config PATH`. */
  configPath?: string;
  /** Defaults to `process.env`. */
  env?: Env;
}

/** A parsed config with the environment fallbacks applied, not yet validated. */
export interface LoadedServerConfig {
  raw: Record<string, unknown>;
  /** The file path or variable name, for error messages. */
  source: string;
}

export function locateServerConfig(options: LoadServerConfigOptions = {}): ServerConfigLocation {
  const env = options.env ?? process.env;
  if (options.configPath !== undefined) return { kind: "file", path: options.configPath, explicit: true };
  const base64 = env[CONFIG_BASE64_VARIABLE];
  if (base64) return { kind: "base64", text: base64 };
  return { kind: "file", path: defaultServerConfigPath(env), explicit: false };
}

/** True when Attic would run its first-run setup: no `-f`, no variable, no XDG file. */
export function isFirstRun(location: ServerConfigLocation): boolean {
  return location.kind === "file" && !location.explicit && !existsSync(location.path);
}

/** Parses TOML; a syntax error becomes a ConfigError with the line and column (never the text). */
export function parseServerToml(text: string, source: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new ConfigError(`TOML syntax error at line ${err.line}, column ${err.column}: ${reason}`, source, { cause: err });
  }
}

async function readConfigText(location: ServerConfigLocation): Promise<{ text: string; source: string }> {
  if (location.kind === "base64") {
    const bytes = decodeBase64Strict(location.text, true);
    if (!bytes) throw new ConfigError("expected the server.toml contents in standard base64", CONFIG_BASE64_VARIABLE);
    return { text: bytes.toString("utf8"), source: CONFIG_BASE64_VARIABLE };
  }
  try {
    return { text: await readFile(location.path, "utf8"), source: location.path };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !location.explicit) {
      throw new ConfigError(
        `no configuration found: pass -f PATH, set ${CONFIG_BASE64_VARIABLE}, or create this file`,
        location.path,
      );
    }
    throw new ConfigError(`cannot read the config file: ${(err as Error).message}`, location.path, { cause: err });
  }
}

/**
 * Loads Attic's `server.toml` the way `atticd` does (`-f PATH`, then
 * `ATTIC_SERVER_CONFIG_BASE64`, then `$XDG_CONFIG_HOME/attic/server.toml`) and applies the
 * environment fallbacks (`ATTIC_SERVER_DATABASE_URL`, `ATTIC_SERVER_TOKEN_*`). It runs no
 * first-run setup; validation is `createEngine`'s or {@link validateServerConfig}'s, except
 * that a config without any JWT signing key is refused here, as Attic refuses it.
 *
 * @throws ConfigError naming the file or variable: unreadable, not TOML, or no signing key
 *   (after any schema error, which is reported first).
 */
export async function loadServerConfig(options: LoadServerConfigOptions = {}): Promise<LoadedServerConfig> {
  const env = options.env ?? process.env;
  const { text, source } = await readConfigText(locateServerConfig(options));
  const raw = applyEnvOverrides(parseServerToml(text, source), env);
  if (!hasJwtSigning(raw)) {
    // Attic needs a signing key; report any schema error first, as its loader would.
    parseConfig(engineConfigSchema, raw, source);
    throw new ConfigError(MISSING_JWT_SIGNING_HELP, source);
  }
  return { raw, source };
}

/** Runs `fn`, giving a ConfigError without a source (thrown by a key decoder) this source. */
function withSource<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isAtticError(err) && err.code === "ConfigError" && !(err as ConfigError).source) {
      throw new ConfigError(err.message, source, { cause: err });
    }
    throw err;
  }
}

/**
 * Everything `atticd --mode check-config` checks, without opening anything: the engine schema,
 * the plugin choices, each selected plugin's own schema, the listen address and (for the
 * builtin JWT plugin) that the signing key decodes.
 *
 * @throws ConfigError naming `source`, each offending key and what was expected.
 */
export function validateServerConfig(
  raw: unknown,
  source: string,
  plugins: readonly PluginDescriptor<any>[] = builtinPlugins,
): EngineConfig {
  const config = parseConfig(engineConfigSchema, raw, source);
  parseListenAddress(config.listen, source);
  for (const { plugin, rawConfig, key } of selectPlugins(config, plugins, source)) {
    parseConfig(plugin.configSchema, rawConfig, source, key);
    if (plugin === jwtAuthPlugin && config.jwt.signing) withSource(source, () => signingFromConfig(config.jwt.signing!));
  }
  return config;
}
