/** A one-shot async iterable over the given byte arrays. */
export async function* asyncOf(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}
