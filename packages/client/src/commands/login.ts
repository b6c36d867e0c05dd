import { assertServerName } from "../cache-ref.ts";
import { loadClientConfig, saveClientConfig } from "../config/client-config.ts";
import { clientConfigPath } from "../config/xdg.ts";
import { writeLine } from "../io.ts";
import type { CommandContext } from "./context.ts";

export interface LoginOptions {
  setDefault?: boolean;
}

/**
 * `attic login NAME ENDPOINT [TOKEN] [--set-default]`: adds or overwrites a server. Without
 * TOKEN an existing token (or token file) is kept. The server becomes the default with
 * `--set-default` or when it is the only one.
 */
export async function login(ctx: CommandContext, name: string, endpoint: string, token: string | undefined, options: LoginOptions): Promise<void> {
  assertServerName(name);
  new URL(endpoint); // fail early on a malformed endpoint
  const path = clientConfigPath(ctx.env);
  const config = await loadClientConfig(path);
  const existing = config.servers[name];
  if (existing) {
    writeLine(ctx.io.stderr, `✍️ Overwriting server "${name}"`);
    existing.endpoint = endpoint;
    if (token !== undefined) {
      existing.token = token;
      delete existing["token-file"];
    }
  } else {
    writeLine(ctx.io.stderr, `✍️ Configuring server "${name}"`);
    config.servers[name] = token !== undefined ? { endpoint, token } : { endpoint };
  }
  if (options.setDefault || Object.keys(config.servers).length === 1) config["default-server"] = name;
  await saveClientConfig(path, config);
}
