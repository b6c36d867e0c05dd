import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writePrivateFile } from "../config/private-file.ts";
import { netrcPath, nixConfPath } from "../config/xdg.ts";
import { ClientError } from "../errors.ts";
import { writeLine } from "../io.ts";
import { Netrc } from "../nix-conf/netrc.ts";
import { NixConf } from "../nix-conf/nix-conf.ts";
import { openCache, type CommandContext } from "./context.ts";

async function readIfExists(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}

/**
 * `attic use CACHE`: adds the cache's substituter and public key to the user's nix.conf and,
 * when the server has a token, a netrc entry for the substituter's host plus `netrc-file`.
 * Both files are parsed before either is written, so an unparsable nix.conf changes nothing.
 */
export async function use(ctx: CommandContext, ref: string): Promise<void> {
  const opened = await openCache(ctx, ref);
  const config = await opened.api.getCacheConfig(opened.cache);
  const substituter = config.substituter_endpoint;
  const publicKey = config.public_key;
  if (!substituter) throw new ClientError("The server did not tell the substituter endpoint");
  if (!publicKey) throw new ClientError("The server did not tell the public key");

  writeLine(ctx.io.stderr, `Configuring Nix to use "${opened.cache}" on "${opened.serverName}":`);
  const confPath = nixConfPath(ctx.env);
  const nixConf = NixConf.parse(await readIfExists(confPath));
  writeLine(ctx.io.stderr, `+ Substituter: ${substituter}`);
  nixConf.addSubstituter(substituter);
  writeLine(ctx.io.stderr, `+ Trusted Public Key: ${publicKey}`);
  nixConf.addTrustedPublicKey(publicKey);

  if (opened.token !== undefined) {
    writeLine(ctx.io.stderr, "+ Access Token");
    const path = netrcPath(ctx.env);
    const netrc = Netrc.parse(await readIfExists(path));
    // Nix matches netrc machines by host name only, without the port.
    netrc.addToken(new URL(substituter).hostname, opened.token);
    await writePrivateFile(path, netrc.toString());
    nixConf.setNetrcFile(path);
  }

  await mkdir(dirname(confPath), { recursive: true });
  await writeFile(confPath, nixConf.toString());
}
