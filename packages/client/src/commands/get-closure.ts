import { writeLine } from "../io.ts";
import { NixCli } from "../nix/nix-cli.ts";
import type { CommandContext } from "./context.ts";

/** `attic get-closure PATH [--include-outputs]` (hidden, for debugging): prints the closure. */
export async function getClosure(ctx: CommandContext, path: string, o: { includeOutputs?: boolean }): Promise<void> {
  const nix = new NixCli(ctx.env);
  const root = await nix.followStorePath(path);
  for (const p of await nix.closure(root, o.includeOutputs === true)) writeLine(ctx.io.stdout, p);
}
