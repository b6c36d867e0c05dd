import { createInterface } from "node:readline";
import { ClientError } from "../errors.ts";
import { writeLine } from "../io.ts";
import { NixCli } from "../nix/nix-cli.ts";
import type { PushSessionTiming } from "../push/push-session.ts";
import { PushRunner, type PushFlags } from "../push/push-runner.ts";
import { openCache, type CommandContext } from "./context.ts";

export interface PushOptions extends PushFlags {
  stdin: boolean;
  /** Batching windows for `--stdin` (Attic's 2 s / 10 s unless overridden, e.g. by tests). */
  timing?: PushSessionTiming;
}

/** Parses `-j/--jobs`: a positive integer. */
export function parseJobs(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ClientError(`Invalid number of jobs "${text}"`);
  if (n === 0) throw new ClientError("The number of jobs cannot be 0");
  return n;
}

/**
 * Opens the cache, reads its config (switching to the `api_endpoint` it names) and wires a
 * {@link PushRunner}; shared by `push` and `watch-store`.
 */
export async function openPush(ctx: CommandContext, ref: string, flags: PushFlags): Promise<{ runner: PushRunner; nix: NixCli; cache: string; serverName: string }> {
  const opened = await openCache(ctx, ref);
  const config = await opened.api.getCacheConfig(opened.cache);
  if (config.api_endpoint) opened.api.setEndpoint(config.api_endpoint);
  const nix = new NixCli(ctx.env);
  return { runner: new PushRunner(ctx.io, nix, opened, config, flags), nix, cache: opened.cache, serverName: opened.serverName };
}

/** `attic push CACHE [PATHS...] [--stdin]`. */
export async function push(ctx: CommandContext, ref: string, paths: string[], o: PushOptions): Promise<void> {
  const { runner, nix } = await openPush(ctx, ref, o);
  if (o.stdin) return pushStdin(ctx, runner, nix, o.timing);

  if (paths.length === 0) {
    writeLine(ctx.io.stderr, "🤷 Nothing specified.");
    if (!ctx.io.isTTY) writeLine(ctx.io.stderr, "Hint: Pass --stdin to read the list of store paths from standard input.");
    return;
  }
  const roots = await Promise.all(paths.map((p) => nix.followStorePath(p)));
  const plan = await runner.plan(roots);
  if (plan.paths.size === 0) {
    if (plan.numAll === 0) writeLine(ctx.io.stderr, "🤷 Nothing selected.");
    else writeLine(ctx.io.stderr, `✅ All done! (${plan.numAlreadyCached} already cached, ${plan.numUpstream} in upstream)`);
    return;
  }
  writeLine(ctx.io.stderr, runner.summary(plan.paths.size, plan));
  runner.enqueue([...plan.paths.values()]);
  await runner.finish();
}

/** `--stdin`: one path per line, batched by a push session as they arrive. */
async function pushStdin(ctx: CommandContext, runner: PushRunner, nix: NixCli, timing: PushSessionTiming | undefined): Promise<void> {
  const session = runner.session(timing);
  const lines = createInterface({ input: ctx.io.stdin, terminal: false, crlfDelay: Infinity });
  for await (const raw of lines) {
    const line = raw.trim();
    if (line === "") continue;
    try {
      session.queue([await nix.followStorePath(line)]);
    } catch (err) {
      runner.fail(err);
    }
  }
  await session.close();
  await runner.finish();
}
