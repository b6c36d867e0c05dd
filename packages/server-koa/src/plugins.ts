import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError, type PluginDescriptor, type PluginKind } from "@attic-ts/core";
import { fastcdcPlugin } from "@attic-ts/chunker-fastcdc";
import { nativeCompressionPlugin } from "@attic-ts/compression";
import { postgresPlugin } from "@attic-ts/db-postgres";
import { sqlitePlugin } from "@attic-ts/db-sqlite";
import { localFsPlugin } from "@attic-ts/storage-local-fs";
// The descriptor alone: the AWS SDK is imported only when `storage.type = "s3"` is selected.
import { s3Plugin } from "@attic-ts/storage-s3/plugin";
import { jwtAuthPlugin } from "@attic-ts/token";
import type { Env } from "./config/xdg-paths.ts";

type AnyPlugin = PluginDescriptor<any>;

/** The plugins `atticd` ships with: local and S3 storage, SQLite, PostgreSQL, FastCDC, native compression, JWT. */
export const builtinPlugins: readonly AnyPlugin[] = [
  localFsPlugin,
  s3Plugin,
  sqlitePlugin,
  postgresPlugin,
  fastcdcPlugin,
  nativeCompressionPlugin,
  jwtAuthPlugin,
];

/**
 * Attic's config schema rejects unknown top-level keys, so third-party plugins are named in
 * this variable instead: comma-separated module specifiers, each default-exporting a plugin
 * descriptor or an array of them. Relative paths are resolved against the working directory;
 * bare package names are resolved from this package's location (a workspace or global install
 * next to `@attic-ts/server-koa`).
 */
export const PLUGINS_VARIABLE = "ATTIC_TS_PLUGINS";

/** Kinds of which the engine uses exactly one installed plugin, whatever the config says. */
const SINGLE_KINDS: ReadonlySet<PluginKind> = new Set(["chunker", "compressor", "auth"]);
const KINDS: ReadonlySet<string> = new Set(["storage", "database", "chunker", "compressor", "auth"]);

function checkDescriptor(value: unknown, specifier: string): AnyPlugin {
  const p = value as Partial<AnyPlugin> | null;
  const ok =
    typeof p === "object" &&
    p !== null &&
    typeof p.kind === "string" &&
    KINDS.has(p.kind) &&
    typeof p.type === "string" &&
    typeof p.register === "function" &&
    typeof (p.configSchema as { safeParse?: unknown } | undefined)?.safeParse === "function";
  if (!ok) {
    throw new ConfigError(
      `"${specifier}" must default-export a plugin descriptor ({ kind, type, configSchema, register }) or an array of them`,
      PLUGINS_VARIABLE,
    );
  }
  return p as AnyPlugin;
}

function importTarget(specifier: string): string {
  const isPath = specifier.startsWith(".") || isAbsolute(specifier);
  return isPath ? pathToFileURL(resolve(specifier)).href : specifier;
}

/** Imports the plugin packages named in `ATTIC_TS_PLUGINS`; none when it is unset or empty. */
export async function loadExtraPlugins(env: Env): Promise<AnyPlugin[]> {
  const specifiers = (env[PLUGINS_VARIABLE] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const plugins: AnyPlugin[] = [];
  for (const specifier of specifiers) {
    let module: { default?: unknown };
    try {
      module = (await import(importTarget(specifier))) as { default?: unknown };
    } catch (err) {
      throw new ConfigError(`cannot load plugin module "${specifier}": ${(err as Error).message}`, PLUGINS_VARIABLE, {
        cause: err,
      });
    }
    const exported = Array.isArray(module.default) ? module.default : [module.default];
    for (const value of exported) plugins.push(checkDescriptor(value, specifier));
  }
  return plugins;
}

/**
 * Builtin plugins overridden by extra ones: an extra chunker, compressor or auth plugin
 * replaces the builtin of its kind (the engine takes exactly one of each); an extra storage or
 * database plugin is added, replacing a builtin with the same `type`.
 */
export function mergePlugins(builtin: readonly AnyPlugin[], extra: readonly AnyPlugin[]): AnyPlugin[] {
  const replaced = (b: AnyPlugin) =>
    extra.some((e) => e.kind === b.kind && (SINGLE_KINDS.has(b.kind) || e.type === b.type));
  return [...builtin.filter((b) => !replaced(b)), ...extra];
}

/** Every plugin `atticd` and `atticadm` may select from: the builtins plus `ATTIC_TS_PLUGINS`. */
export async function installedPlugins(env: Env): Promise<AnyPlugin[]> {
  return mergePlugins(builtinPlugins, await loadExtraPlugins(env));
}
