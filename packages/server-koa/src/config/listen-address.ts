import { ConfigError } from "@attic-ts/core";

/** A parsed `listen` value: what `server.listen(port, host)` takes. */
export interface ListenAddress {
  /** An IP address without brackets (`::`, `0.0.0.0`) or a host name (`localhost`). */
  host: string;
  /** 0 asks the system for a free port. */
  port: number;
}

const BRACKETED = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]:(\d{1,5})$/;
const PLAIN = /^([A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * Parses Attic's `listen` (a Rust `SocketAddr`: `[::]:8080`, `0.0.0.0:8080`), also accepting a
 * host name such as `localhost:8080`.
 *
 * @throws ConfigError naming `key` (the config key or the `--listen` flag) and `source`.
 */
export function parseListenAddress(text: string, source?: string, key = "listen"): ListenAddress {
  const match = BRACKETED.exec(text) ?? PLAIN.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65_535) {
    throw new ConfigError(
      `${key}: expected an address and port such as "[::]:8080", "0.0.0.0:8080" or "localhost:8080", got ${JSON.stringify(text)}`,
      source,
    );
  }
  return { host: match[1]!, port };
}

/** `http://host:port` for an address `server.address()` reported; IPv6 in brackets. */
export function formatHttpUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
