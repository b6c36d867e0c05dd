import { parseArgs } from "node:util";
import { ConfigError, isValidCachePattern, parseDurationSeconds, type CachePermission } from "@attic-ts/core";
import { JwtTokenAuthority, PUBKEY_ONLY_MESSAGE } from "@attic-ts/token";
import { loadServerConfig, validateServerConfig } from "../config/load-server-config.ts";
import type { Env } from "../config/xdg-paths.ts";
import { installedPlugins } from "../plugins.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, printError, reportFailure } from "./cli-support.ts";

/** `make-token` permission flags in Attic's order, with the permission each sets. */
const PERMISSION_FLAGS = [
  ["pull", "pull"],
  ["push", "push"],
  ["delete", "delete"],
  ["create-cache", "createCache"],
  ["configure-cache", "configureCache"],
  ["configure-cache-retention", "configureCacheRetention"],
  ["destroy-cache", "destroyCache"],
] as const satisfies ReadonlyArray<readonly [string, keyof CachePermission]>;

const USAGE = `Usage: atticadm [-f/--config PATH] make-token --sub SUB --validity DURATION [--dump-claims]
         [--pull PATTERN]... [--push PATTERN]... [--delete PATTERN]... [--create-cache PATTERN]...
         [--configure-cache PATTERN]... [--configure-cache-retention PATTERN]... [--destroy-cache PATTERN]...

Generates a JWT signed with the server's [jwt.signing] key. DURATION is humantime ("1 month",
"2y"); PATTERN is a cache name, "*" wildcards allowed.
`;

class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  const patternOptions = Object.fromEntries(
    PERMISSION_FLAGS.map(([flag]) => [flag, { type: "string" as const, multiple: true as const, default: [] as string[] }]),
  ) as Record<(typeof PERMISSION_FLAGS)[number][0], { type: "string"; multiple: true; default: string[] }>;
  return parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "f" },
      sub: { type: "string" },
      validity: { type: "string" },
      "dump-claims": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
      ...patternOptions,
    },
    strict: true,
    allowPositionals: true,
  });
}

type Parsed = ReturnType<typeof parseCommandLine>;

/**
 * Grants as `make-token` builds them: flags in the order pull, push, delete, create-cache,
 * configure-cache, configure-cache-retention, destroy-cache, each pattern in command-line
 * order; a pattern seen again adds its bit to the first entry (the claim serializer merges).
 */
export function grantsFromFlags(values: Partial<Record<(typeof PERMISSION_FLAGS)[number][0], string[]>>) {
  const grants: Array<readonly [string, Partial<CachePermission>]> = [];
  for (const [flag, permission] of PERMISSION_FLAGS) {
    for (const pattern of values[flag] ?? []) {
      if (!isValidCachePattern(pattern)) throw new UsageError(`--${flag}: invalid cache name pattern "${pattern}"`);
      grants.push([pattern, { [permission]: true }] as const);
    }
  }
  return grants;
}

function checkMakeToken({ values, positionals }: Parsed): { sub: string; validitySeconds: number } {
  if (positionals.length === 0) throw new UsageError("missing subcommand: make-token");
  if (positionals[0] !== "make-token" || positionals.length > 1) {
    throw new UsageError(`unexpected argument "${positionals.find((p) => p !== "make-token") ?? positionals[0]}"`);
  }
  if (values.sub === undefined) throw new UsageError("make-token: --sub SUB is required");
  if (values.validity === undefined) throw new UsageError("make-token: --validity DURATION is required");
  try {
    return { sub: values.sub, validitySeconds: parseDurationSeconds(values.validity) };
  } catch (err) {
    throw new UsageError(`--validity: ${(err as Error).message}`);
  }
}

export interface RunAtticadmOptions {
  env?: Env;
}

/**
 * The `atticadm` command (`make-token` only, as in Attic). It reads the server config like
 * atticd, without first-run setup, and needs only the `[jwt]` table's key: no database or
 * storage is opened. Prints the token (or, with `--dump-claims`, the unsigned claims JSON).
 */
export async function runAtticadm(argv: string[], options: RunAtticadmOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  let parsed: Parsed;
  let request: { sub: string; validitySeconds: number };
  let grants: ReturnType<typeof grantsFromFlags>;
  try {
    parsed = parseCommandLine(argv);
    if (parsed.values.help) {
      process.stdout.write(USAGE);
      return EXIT_OK;
    }
    request = checkMakeToken(parsed);
    grants = grantsFromFlags(parsed.values);
  } catch (err) {
    printError(`atticadm: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }

  try {
    const { raw, source } = await loadServerConfig({ configPath: parsed.values.config, env });
    const config = validateServerConfig(raw, source, await installedPlugins(env));
    let authority: JwtTokenAuthority;
    try {
      authority = JwtTokenAuthority.fromConfig(config.jwt);
    } catch (err) {
      throw err instanceof ConfigError && !err.source ? new ConfigError(err.message, source, { cause: err }) : err;
    }
    const spec = { sub: request.sub, validitySeconds: request.validitySeconds, grants };
    if (parsed.values["dump-claims"]) {
      process.stdout.write(`${JSON.stringify(authority.claimsFor(spec))}\n`);
      return EXIT_OK;
    }
    if (!authority.canSign) {
      printError(`atticadm: error: ${PUBKEY_ONLY_MESSAGE}`);
      return EXIT_FAILURE;
    }
    process.stdout.write(`${await authority.mint(spec)}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportFailure("atticadm", err);
  }
}
