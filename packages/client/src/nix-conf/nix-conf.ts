import { ClientError } from "../errors.ts";

/** cache.nixos.org, kept after the new substituter when `substituters` is not set yet. */
export const CACHE_NIXOS_ORG_SUBSTITUTER = "https://cache.nixos.org";
/** cache.nixos.org's key, kept after the new key when `trusted-public-keys` is not set yet. */
export const CACHE_NIXOS_ORG_KEY = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";

// Attic's line grammar (client/src/nix_config.rs): a blank or comment line, or
// `<ws>key<ws>=<ws>value<#comment>` with whitespace required around `=` — `key=value` is
// rejected, and a `=` inside the key is fine.
const COMMENT_LINE = /^\s*(#.*)?$/;
const KV_LINE = /^(\s*)(\S+)(\s+)=(\s+)([^#]+)(#.*)?$/;

/** A parsed line; `KV` lines keep their spacing so they serialise back byte for byte. */
export type NixConfLine =
  | { kind: "comment"; text: string }
  | { kind: "kv"; lead: string; key: string; beforeEq: string; afterEq: string; value: string; comment: string };

/** Parses one line; throws for a line outside the grammar (`attic use` then changes nothing). */
export function parseNixConfLine(line: string): NixConfLine {
  if (COMMENT_LINE.test(line)) return { kind: "comment", text: line };
  const m = KV_LINE.exec(line);
  if (!m) throw new ClientError(`Line "${line}" isn't valid`);
  return { kind: "kv", lead: m[1]!, key: m[2]!, beforeEq: m[3]!, afterEq: m[4]!, value: m[5]!, comment: m[6] ?? "" };
}

/** Serialises a line back. */
export function formatNixConfLine(line: NixConfLine): string {
  return line.kind === "comment" ? line.text : `${line.lead}${line.key}${line.beforeEq}=${line.afterEq}${line.value}${line.comment}`;
}

/**
 * An editable `nix.conf` that preserves every line it does not change (comments, spacing,
 * trailing comments, the final newline).
 */
export class NixConf {
  private constructor(private readonly lines: NixConfLine[]) {}

  /** Parses a file's text ("" for a missing file). */
  static parse(text: string): NixConf {
    // An empty (or missing) file starts as one empty final line, so new files end in a newline.
    const lines = text.split("\n").map(parseNixConfLine);
    return new NixConf(lines);
  }

  /** The file's text. */
  toString(): string {
    return this.lines.map(formatNixConfLine).join("\n");
  }

  /** The value of the first `key` line (trimmed), or undefined. */
  get(key: string): string | undefined {
    const line = this.find(key);
    return line?.value.trim();
  }

  /** Puts `substituter` first in `substituters` (no duplicates). */
  addSubstituter(substituter: string): void {
    this.prependToList("substituters", substituter, CACHE_NIXOS_ORG_SUBSTITUTER);
  }

  /** Puts `key` first in `trusted-public-keys` (no duplicates). */
  addTrustedPublicKey(key: string): void {
    this.prependToList("trusted-public-keys", key, CACHE_NIXOS_ORG_KEY);
  }

  /** Sets `netrc-file`, replacing an existing value. */
  setNetrcFile(path: string): void {
    const line = this.find("netrc-file");
    if (line) line.value = withTrailingSpace(line.value, path);
    else this.append("netrc-file", path);
  }

  private prependToList(key: string, item: string, defaultTail: string): void {
    const line = this.find(key);
    if (!line) {
      // Nix's default for these lists is cache.nixos.org; keep it, as Attic does.
      this.append(key, `${item} ${defaultTail}`);
      return;
    }
    const items = line.value.trim().split(/\s+/).filter((s) => s !== "");
    if (items.includes(item)) return;
    line.value = withTrailingSpace(line.value, [item, ...items].join(" "));
  }

  private find(key: string): Extract<NixConfLine, { kind: "kv" }> | undefined {
    for (const line of this.lines) if (line.kind === "kv" && line.key === key) return line;
    return undefined;
  }

  private append(key: string, value: string): void {
    const line: NixConfLine = { kind: "kv", lead: "", key, beforeEq: " ", afterEq: " ", value, comment: "" };
    // Keep a final newline final: insert before the empty last "line" it produces.
    const last = this.lines[this.lines.length - 1];
    if (last?.kind === "comment" && last.text === "") this.lines.splice(this.lines.length - 1, 0, line);
    else this.lines.push(line);
  }
}

/** `value` with its trailing whitespace (before a comment) kept after `replacement`. */
function withTrailingSpace(value: string, replacement: string): string {
  const trailing = /\s*$/.exec(value)![0];
  return replacement + trailing;
}
