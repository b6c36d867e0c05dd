/**
 * Parses durations the way Attic's config does (Rust `humantime`): a sequence of
 * `<integer><unit>` terms, optionally separated by spaces, e.g. "12 hours", "1 day 6h", "0s".
 * Returns whole seconds (sub-second terms are summed exactly, then floored).
 */
const UNIT_NANOS: Record<string, bigint> = {};
const SECOND = 1_000_000_000n;
function units(names: string[], nanos: bigint): void {
  for (const n of names) UNIT_NANOS[n] = nanos;
}
units(["nsec", "ns"], 1n);
units(["usec", "us", "µs"], 1_000n);
units(["msec", "ms"], 1_000_000n);
units(["seconds", "second", "secs", "sec", "s"], SECOND);
units(["minutes", "minute", "mins", "min", "m"], 60n * SECOND);
units(["hours", "hour", "hrs", "hr", "h"], 3600n * SECOND);
units(["days", "day", "d"], 86_400n * SECOND);
units(["weeks", "week", "w"], 604_800n * SECOND);
// humantime's month and year are averages: 30.44 days and 365.25 days.
units(["months", "month", "M"], 2_630_016n * SECOND);
units(["years", "year", "y"], 31_557_600n * SECOND);

export function parseDurationSeconds(text: string): number {
  const input = text.trim();
  if (input === "") throw new Error("empty duration");
  const term = /\s*(\d+)\s*([A-Za-zµ]+)\s*/y;
  let total = 0n;
  let pos = 0;
  while (pos < input.length) {
    term.lastIndex = pos;
    const m = term.exec(input);
    if (!m) throw new Error(`invalid duration "${text}": expected a number and a unit at "${input.slice(pos)}"`);
    const nanos = UNIT_NANOS[m[2]!];
    if (nanos === undefined) throw new Error(`invalid duration "${text}": unknown unit "${m[2]}"`);
    total += BigInt(m[1]!) * nanos;
    pos = term.lastIndex;
  }
  return Number(total / SECOND);
}

/** Formats seconds the way humantime prints them ("1day 2h 3m 4s"; "0s" for zero). */
export function formatDurationSeconds(seconds: number): string {
  if (seconds === 0) return "0s";
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [["year", 31_557_600], ["month", 2_630_016], ["day", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      parts.push(unit.length > 1 ? `${n}${unit}${n > 1 ? "s" : ""}` : `${n}${unit}`);
      rest -= n * size;
    }
  }
  return parts.join(" ");
}
