import type { z } from "zod";
import { ConfigError } from "../errors.ts";

/** Renders a zod issue path the way a TOML user writes it: `chunking.min-size`, `jwt.signing`. */
function keyOf(path: ReadonlyArray<PropertyKey>, prefix: string): string {
  const parts = [prefix, ...path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))].filter(Boolean);
  return parts.join(".").replace(/\.\[/g, "[") || "(top level)";
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  if (issue.code === "invalid_type" && issue.input === undefined) return `missing; expected ${issue.expected}`;
  return issue.message;
}

/**
 * Validates `value` against `schema`; on failure throws a ConfigError that names the source
 * (file or variable), every offending key and what was expected. Values are never echoed,
 * since config tables carry secrets.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  source: string,
  keyPrefix = "",
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${keyOf(issue.path, keyPrefix)}: ${describe(issue)}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`, source);
}
