import type { EngineConfig } from "../config/engine-config.ts";
import { ConfigError } from "../errors.ts";
import type { PluginDescriptor, PluginKind } from "../plugin.ts";

type AnyPlugin = PluginDescriptor<any>;

/** One plugin chosen for one kind, with the config table it validates and the key it sits at. */
export interface PluginChoice {
  plugin: AnyPlugin;
  rawConfig: unknown;
  key: string;
}

function ofKind(plugins: readonly AnyPlugin[], kind: PluginKind): AnyPlugin[] {
  return plugins.filter((p) => p.kind === kind);
}

function typesOf(plugins: readonly AnyPlugin[]): string {
  return plugins.map((p) => `"${p.type}"`).join(", ") || "(none installed)";
}

/**
 * Picks the plugin for each kind from the config: `storage.type`, the scheme of
 * `database.url`, and the single installed chunker, compressor and (when signing material is
 * configured) token authority. An unknown choice is a ConfigError listing what is installed.
 */
export function selectPlugins(config: EngineConfig, plugins: readonly AnyPlugin[], source: string): PluginChoice[] {
  const storages = ofKind(plugins, "storage");
  const storage = storages.find((p) => p.type === config.storage.type);
  if (!storage) {
    throw new ConfigError(`storage.type: expected one of ${typesOf(storages)} (installed storage plugins), got "${config.storage.type}"`, source);
  }

  const databases = ofKind(plugins, "database");
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(config.database.url)?.[1]?.toLowerCase();
  const database = databases.find((p) => scheme !== undefined && (p.urlSchemes ?? [p.type]).includes(scheme));
  if (!database) {
    const schemes = databases.flatMap((p) => p.urlSchemes ?? [p.type]).map((s) => `${s}://`).join(", ");
    throw new ConfigError(`database.url: expected a URL starting with one of ${schemes || "(no database plugin installed)"}`, source);
  }

  const single = (kind: PluginKind, key: string): AnyPlugin => {
    const found = ofKind(plugins, kind);
    if (found.length !== 1) {
      throw new ConfigError(`${key}: expected exactly one ${kind} plugin, found ${typesOf(found)}`, source);
    }
    return found[0]!;
  };

  const choices: PluginChoice[] = [
    { plugin: database, rawConfig: config.database, key: "database" },
    { plugin: storage, rawConfig: config.storage, key: "storage" },
    { plugin: single("chunker", "chunking"), rawConfig: config.chunking, key: "chunking" },
    { plugin: single("compressor", "compression"), rawConfig: {}, key: "compression" },
  ];
  if (config.jwt.signing) choices.push({ plugin: single("auth", "jwt"), rawConfig: config.jwt, key: "jwt" });
  return choices;
}
