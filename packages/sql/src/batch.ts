/**
 * Splits `items` into consecutive slices of at most `size` items, for statements whose
 * parameter count the engine limits (see `Dialect.batchSize`).
 */
export function batches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
