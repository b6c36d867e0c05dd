import { DEFAULT_COMPRESSION_LEVEL } from "@attic-ts/core";
import type { CompressionType } from "@attic-ts/core";

/** Valid level range per codec; Attic's encoders (async-compression `Level::Precise`) clamp into it. */
const LEVEL_RANGE: Record<Exclude<CompressionType, "none">, readonly [min: number, max: number]> = {
  br: [0, 11],
  // ZSTD_minCLevel() is -(1 << 17); 0 means zstd's own default (3), as in libzstd.
  zstd: [-131072, 22],
  xz: [0, 9],
};

/** The level to use: the configured one clamped into the codec's range, else Attic's default. */
export function effectiveLevel(type: Exclude<CompressionType, "none">, level: number | undefined): number {
  const [min, max] = LEVEL_RANGE[type];
  const wanted = level === undefined ? (DEFAULT_COMPRESSION_LEVEL[type] as number) : Math.trunc(level);
  return Math.min(max, Math.max(min, wanted));
}
