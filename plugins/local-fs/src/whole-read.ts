import { Readable } from "node:stream";

/** Why a file's content did not match the size the caller expected. */
export class SizeMismatch extends Error {
  constructor(
    /** Bytes expected. */
    readonly expected: number,
    /** Bytes found; `expected + 1` means "at least one byte more". */
    readonly found: number,
  ) {
    super(found > expected ? `the file is longer than the recorded ${expected} bytes` : `the file has ${found} bytes, ${expected} were recorded`);
  }
}

/** A byte-mode Readable that holds `data` and ends: no reads, no thread pool. */
export function bufferStream(data: Buffer): Readable {
  const stream = new Readable({ read() {} });
  if (data.length > 0) stream.push(data);
  stream.push(null);
  return stream;
}
