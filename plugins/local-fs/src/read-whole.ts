import { closeSync, open, read } from "node:fs";
import { Readable } from "node:stream";

/**
 * Why a small file of known size is read with the callback `fs` API in one `read` instead of a
 * `ReadStream`: a stream costs open → fstat → read → EOF read → close, five thread-pool round
 * trips per ~64 KiB chunk, and a NAR download is thousands of chunks in a row. Here it is open
 * → read in the pool, then a synchronous close, with one exact-size buffer.
 *
 * Why the close is synchronous: closing a descriptor opened read-only does no I/O (nothing to
 * flush), so it takes microseconds on the main thread, while a pool round trip costs a thread
 * wake-up; in a CPU profile of a download the asynchronous close was the largest single cost
 * (19 % of main-thread time: queueing and waking a pool thread on a busy 2-core machine).
 */

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

const openFile = (path: string): Promise<number> =>
  new Promise((resolve, reject) => open(path, "r", (err, fd) => (err ? reject(err) : resolve(fd))));

const readInto = (fd: number, buffer: Buffer, offset: number, position: number): Promise<number> =>
  new Promise((resolve, reject) =>
    read(fd, buffer, offset, buffer.length - offset, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
  );

/**
 * Reads exactly `size` bytes of the file at `path`. One byte more than expected is asked for,
 * so a longer file is noticed by the same read; a shorter one by the read that returns 0.
 * Rejects with the `fs` error (ENOENT, EISDIR, ...) or a `SizeMismatch`; the descriptor is
 * always closed.
 */
export async function readWholeFile(path: string, size: number): Promise<Buffer> {
  const fd = await openFile(path);
  try {
    const buffer = Buffer.allocUnsafe(size + 1);
    let got = 0;
    for (;;) {
      const n = await readInto(fd, buffer, got, got);
      got += n;
      // Asking for size + 1 and getting exactly size is a short read of a regular file, which
      // on Linux (and POSIX for regular files) means end of file: the usual case, one read.
      // Fewer bytes loop until a read returns 0, so a slow short read isn't taken for EOF.
      if (n === 0 || got >= size) break;
    }
    if (got === size) return buffer.subarray(0, size);
    throw new SizeMismatch(size, got);
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Nothing to do: the bytes are read (or the read failed, which is reported instead).
    }
  }
}

/** A byte-mode Readable that holds `data` and ends: no reads, no thread pool. */
export function bufferStream(data: Buffer): Readable {
  const stream = new Readable({ read() {} });
  if (data.length > 0) stream.push(data);
  stream.push(null);
  return stream;
}
