// Worker thread body for ReaderThreads (reader-threads.ts). Plain JavaScript (with JSDoc types)
// on purpose: Node 20 cannot run a `.ts` file in a worker, and tsc does not copy it, so the
// package ships this file from src/ and reader-threads.ts finds it from src/ and from dist/.
//
// Protocol: the parent posts an array of reads {id, files: [{path, size}], target, offset},
// where `target` is a SharedArrayBuffer with room for the files' sizes summed from `offset`.
// For each read the worker fills it, file after file, synchronously (open, reads, close: no
// event loop between them), and answers, in one message per posted array:
//   {id}                          every file held exactly its size
//   {id, index, found}            file `index` held `found` bytes (size + 1: "more")
//   {id, index, code, message}    an fs error on file `index` (ENOENT, EISDIR, ...)
// Nothing is allocated or moved per read: the bytes land in memory the parent owns.
import { closeSync, openSync, readSync } from "node:fs";
import { parentPort } from "node:worker_threads";

if (parentPort === null) throw new Error("read-worker.mjs must run in a worker thread");
const port = parentPort;

/** Where the one-byte read past a file's recorded size lands. */
const probe = Buffer.alloc(1);

/**
 * Reads the file at `path` into `target` at `offset`; answers the bytes it holds when that is
 * not `size` (size + 1 for "more"), or -1 when it holds exactly `size`.
 * @param {string} path @param {number} size @param {Buffer} target @param {number} offset
 */
function readInto(path, size, target, offset) {
  const fd = openSync(path, "r");
  try {
    let got = 0;
    // A short read of a regular file is not taken for its end; the read that returns 0 is.
    while (got < size) {
      const n = readSync(fd, target, offset + got, size - got, got);
      if (n === 0) return got;
      got += n;
    }
    return readSync(fd, probe, 0, 1, size) === 0 ? -1 : size + 1;
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Closing a read-only descriptor does no I/O; nothing is lost if it fails.
    }
  }
}

/** @param {{ id: number, files: Array<{ path: string, size: number }>, target: SharedArrayBuffer, offset: number }} read */
function readGroup({ id, files, target, offset }) {
  const bytes = Buffer.from(target);
  let at = offset;
  for (let index = 0; index < files.length; index++) {
    const { path, size } = files[index];
    try {
      const found = readInto(path, size, bytes, at);
      if (found >= 0) return { id, index, found };
    } catch (err) {
      const error = /** @type {NodeJS.ErrnoException} */ (err);
      return { id, index, code: error.code ?? "EIO", message: error.message };
    }
    at += size;
  }
  return { id };
}

port.on("message", (/** @type {Array<Parameters<typeof readGroup>[0]>} */ reads) => {
  port.postMessage(reads.map(readGroup));
});
