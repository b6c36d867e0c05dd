const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** Bytes as indicatif's `HumanBytes` prints them: `512 B`, `1.50 KiB`, `3.20 GiB`. */
export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.floor(bytes)} B`;
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)} ${UNITS[unit]}`;
}

/** Average speed: `bytes` over `ms` milliseconds, as `1.50 MiB/s`. */
export function speed(bytes: number, ms: number): string {
  if (ms <= 0) return "-";
  return `${humanBytes((bytes * 1000) / ms)}/s`;
}

/** Seconds as `1h02m03s` / `2m05s` / `7s` for ETAs. */
export function shortDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(r).padStart(2, "0")}s`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/**
 * The detail Attic prints after a pushed path: `deduplicated` for NAR-level dedup, else the
 * upload speed and, above 1 %, the chunk-level deduplicated share.
 */
export function uploadedDetail(kind: "Uploaded" | "Deduplicated", narSize: number, ms: number, fracDeduplicated: number | null | undefined): string {
  if (kind === "Deduplicated") return "deduplicated";
  let s = speed(narSize, Math.max(ms, 1));
  if (fracDeduplicated != null && fracDeduplicated > 0.01) s += `, ${(fracDeduplicated * 100).toFixed(1)}% deduplicated`;
  return s;
}
