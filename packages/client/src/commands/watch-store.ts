import { watch } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { writeLine } from "../io.ts";
import type { PushSessionTiming } from "../push/push-session.ts";
import type { PushFlags } from "../push/push-runner.ts";
import type { CommandContext } from "./context.ts";
import { openPush } from "./push.ts";

/**
 * The store path whose lock file `name` is, when a removed lock means "this path just became
 * valid": `*.lock`, except derivations' (`*.drv.lock`) and fetched sources' (`*-source.lock`),
 * as Attic's watcher filters them.
 */
export function storePathOfLock(name: string): string | undefined {
  if (!name.endsWith(".lock")) return undefined;
  const base = name.slice(0, -".lock".length);
  if (base.endsWith(".drv") || base.endsWith("-source") || base.length < 34) return undefined;
  return base;
}

export interface WatchOptions extends PushFlags {
  timing?: PushSessionTiming;
}

/**
 * `attic watch-store CACHE`: watches the store directory (not recursively) and pushes every
 * path whose lock file is removed, through a push session. Runs until `ctx.signal` aborts,
 * then finishes the uploads in flight.
 */
export async function watchStore(ctx: CommandContext, ref: string, o: WatchOptions, signal?: AbortSignal): Promise<void> {
  const { runner, nix, cache, serverName } = await openPush(ctx, ref, o);
  const session = runner.session(o.timing, true);
  const storeDir = nix.storeDir;
  const watcher = watch(storeDir, { persistent: true }, (event, filename) => {
    if (event !== "rename" || !filename) return;
    const base = storePathOfLock(filename.toString());
    if (!base) return;
    // fs.watch says "rename" for both creation and removal: only a lock that is gone counts.
    void access(join(storeDir, filename.toString())).then(
      () => {},
      () => session.queue([join(storeDir, base)]),
    );
  });
  writeLine(ctx.io.stderr, `👀 Pushing new store paths to "${cache}" on "${serverName}"`);
  await new Promise<void>((resolve, reject) => {
    watcher.on("error", reject);
    if (signal?.aborted) return resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  }).finally(() => watcher.close());
  await session.close();
  await runner.finish();
}
