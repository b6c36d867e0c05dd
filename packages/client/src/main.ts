import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { cacheInfo, configureCache, createCache, destroyCache } from "./commands/cache.ts";
import type { CommandContext } from "./commands/context.ts";
import { COMPLETION_SHELLS, type CompletionShell, genCompletions } from "./commands/gen-completions.ts";
import { getClosure } from "./commands/get-closure.ts";
import { login } from "./commands/login.ts";
import { parseJobs, push } from "./commands/push.ts";
import { use } from "./commands/use.ts";
import { watchStore } from "./commands/watch-store.ts";
import { errorMessage } from "./errors.ts";
import type { CliIo } from "./io.ts";

/** Extra knobs for embedding and tests. */
export interface MainOptions {
  /** Stops long-running commands (`watch-store`) gracefully. */
  signal?: AbortSignal;
  /** The fetch every request goes through. */
  fetch?: typeof fetch;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
const integer = (value: string): number => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n)) throw new InvalidArgumentError("Not an integer.");
  return n;
};

export function program(ctx: CommandContext, options: MainOptions): Command {
  const p = new Command("attic")
    .description("Attic binary cache client (attic-ts)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) })
    .showHelpAfterError(false);

  p.command("login")
    .description("Log into an Attic server")
    .argument("<name>", "name of the server")
    .argument("<endpoint>", "endpoint of the server")
    .argument("[token]", "access token")
    .option("--set-default", "make this server the default")
    .action((name: string, endpoint: string, token: string | undefined, o: { setDefault?: boolean }) => login(ctx, name, endpoint, token, o));

  p.command("use")
    .description("Configure Nix to use a binary cache")
    .argument("<cache>", "servername:cachename, or cachename on the default server")
    .action((cache: string) => use(ctx, cache));

  const pushFlags = (c: Command) =>
    c
      .option("--ignore-upstream-cache-filter", "push paths signed by the cache's upstream keys too")
      .option("-j, --jobs <n>", "maximum number of parallel uploads", "5")
      .addOption(new Option("--force-preamble", "always send the upload info in the body").hideHelp());

  pushFlags(
    p
      .command("push")
      .description("Push closures to a binary cache")
      .argument("<cache>", "servername:cachename, or cachename on the default server")
      .argument("[paths...]", "store paths (or symlinks to them) to push")
      .option("--stdin", "read paths from standard input, one per line")
      .option("--no-closure", "push the given paths only, not their closures"),
  ).action((cache: string, paths: string[], o: { stdin?: boolean; closure: boolean; ignoreUpstreamCacheFilter?: boolean; jobs: string; forcePreamble?: boolean }) =>
    push(ctx, cache, paths, {
      stdin: o.stdin === true,
      noClosure: !o.closure,
      ignoreUpstreamCacheFilter: o.ignoreUpstreamCacheFilter === true,
      jobs: parseJobs(o.jobs),
      forcePreamble: o.forcePreamble === true,
    }),
  );

  pushFlags(
    p
      .command("watch-store")
      .description("Watch the Nix store for new paths and push them to a binary cache")
      .argument("<cache>", "servername:cachename, or cachename on the default server")
      .addOption(new Option("--no-closure", "push the new paths only").hideHelp()),
  ).action((cache: string, o: { closure: boolean; ignoreUpstreamCacheFilter?: boolean; jobs: string; forcePreamble?: boolean }) =>
    watchStore(
      ctx,
      cache,
      { noClosure: !o.closure, ignoreUpstreamCacheFilter: o.ignoreUpstreamCacheFilter === true, jobs: parseJobs(o.jobs), forcePreamble: o.forcePreamble === true },
      options.signal,
    ),
  );

  const cache = p.command("cache").description("Manage caches on an Attic server");
  cache
    .command("create")
    .description("Create a cache")
    .argument("<cache>")
    .option("--public", "make the cache public (anyone can pull)")
    .option("--priority <n>", "priority of the binary cache (lower is preferred)", integer, 41)
    .option("--upstream-cache-key-name <name>", "signing key name of an upstream cache (repeatable)", collect)
    .addOption(new Option("--store-dir <dir>", "Nix store directory of the cache").default("/nix/store").hideHelp())
    .action((ref: string, o: { public?: boolean; priority: number; upstreamCacheKeyName?: string[]; storeDir: string }) =>
      createCache(ctx, ref, { ...o, upstreamCacheKeyName: o.upstreamCacheKeyName ?? ["cache.nixos.org-1"] }),
    );
  cache
    .command("configure")
    .description("Configure a cache (only the given settings change)")
    .argument("<cache>")
    .option("--regenerate-keypair", "regenerate the signing keypair")
    .option("--public", "make the cache public")
    .option("--private", "make the cache private")
    .addOption(new Option("--store-dir <dir>", "Nix store directory of the cache").hideHelp())
    .option("--priority <n>", "priority of the binary cache", integer)
    .option("--upstream-cache-key-name <name>", "signing key name of an upstream cache (repeatable; replaces the list)", collect)
    .option("--retention-period <period>", 'retention period, e.g. "2 years", "3 months", "1y"')
    .option("--reset-retention-period", "use the server's global retention period")
    .action((ref: string, o: Parameters<typeof configureCache>[2]) => configureCache(ctx, ref, o));
  cache
    .command("destroy")
    .description("Destroy a cache")
    .argument("<cache>")
    .option("--no-confirm", "do not ask for confirmation")
    .action((ref: string, o: { confirm: boolean }) => destroyCache(ctx, ref, o));
  cache
    .command("info")
    .description("Show the configuration of a cache")
    .argument("<cache>")
    .action((ref: string) => cacheInfo(ctx, ref));

  p.command("get-closure", { hidden: true })
    .description("Print the closure of a store path (debugging)")
    .argument("<path>")
    .option("--include-outputs", "include the outputs of derivations")
    .action((path: string, o: { includeOutputs?: boolean }) => getClosure(ctx, path, o));

  p.command("gen-completions")
    .description("Generate shell completions")
    .addArgument(new Argument("<shell>", "the shell").choices(COMPLETION_SHELLS))
    .action((shell: CompletionShell) => genCompletions(ctx, p, shell));

  return p;
}

/**
 * Runs the `attic` command line: `argv` without the node and script names, the environment
 * the command sees (config paths, Nix variables) and its streams. Returns the exit status;
 * errors print as `Error: {message}` (server errors as `{error}: {message}`).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv, io: CliIo, options: MainOptions = {}): Promise<number> {
  const ctx: CommandContext = { env, io, fetch: options.fetch ?? fetch };
  try {
    await program(ctx, options).parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander and exit 2,
      // as the upstream client's (clap's) do, so scripts can tell them from failed operations.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      return 2;
    }
    io.stderr.write(`Error: ${errorMessage(err)}\n`);
    return 1;
  }
}
