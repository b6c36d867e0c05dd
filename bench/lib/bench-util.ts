/** Small helpers shared by the benchmarks: medians, load, store path hashes, env sizes, slices. */
import { createHash } from "node:crypto";
import { loadavg } from "node:os";

/** Median of the values (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile, `p` in 0..100. */
export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** The 1-minute load average, printed next to every figure (the machine is shared). */
export function load(): string {
  return `load ${loadavg()[0]!.toFixed(2)}`;
}

const NIX32 = "0123456789abcdfghijklmnpqrsvwxyz";

/** A deterministic valid store path hash (32 characters of Nix's base32) for `seed`. */
export function storePathHash(seed: string): string {
  const d = createHash("sha256").update(seed).digest();
  let out = "";
  for (let i = 0; i < 32; i++) out += NIX32[d[i]! & 31];
  return out;
}

/** A number from the environment, else the default. */
export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
}

/** Runs `fn` `times` times and returns every result (for the median). */
export async function repeat<T>(times: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < times; i++) out.push(await fn(i));
  return out;
}

export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** `ratio` against `target` as "ratio 0.83 (target >= 0.5: met)". */
export function verdict(ratio: number, op: ">=" | "<=", target: number): string {
  const met = op === ">=" ? ratio >= target : ratio <= target;
  return `(target ${op} ${target}: ${met ? "met" : "MISSED"})`;
}

/** `data` as an async body of `size`-byte slices (views, not copies). */
export async function* slices(data: Uint8Array, size = 1024 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.byteLength; offset += size) yield data.subarray(offset, offset + size);
}

/** local-fs's `sync` for the benches' engines and atticd: BENCH_LOCAL_SYNC (`file`, the default, or `filesystem`). */
export function localSyncMode(): "filesystem" | "file" {
  const mode = process.env.BENCH_LOCAL_SYNC ?? "file";
  if (mode !== "filesystem" && mode !== "file") throw new Error(`BENCH_LOCAL_SYNC must be "filesystem" or "file", not ${JSON.stringify(mode)}`);
  return mode;
}
