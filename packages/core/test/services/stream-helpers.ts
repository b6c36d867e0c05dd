/** Helpers shared by the concatenation and part-list tests. */

/** `n` bytes that differ by `seed`, so a part out of place shows. */
export const bytesOf = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** A few turns of the event loop, for opens and reads in flight to settle. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** The rejection reason of `work`, or undefined when it resolves. */
export function errorOf(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (e: unknown) => e,
  );
}
