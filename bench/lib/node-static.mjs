// The best case for a Node server that copies a NAR through user space: one static file, read
// ahead in 256 KiB pieces into a few reused buffers (no chunk files, no database, no fresh
// allocations) and written to the socket, each buffer reused once its write has completed.
// nginx, the baseline, sends the same file with `sendfile` and never copies it; this
// shows how much of the gap to nginx is Node's own (bench/http-nar.ts).
// Run: node bench/lib/node-static.mjs ROOT  (prints the port it listens on, on 127.0.0.1)
import { open } from "node:fs/promises";
import { createServer } from "node:http";
import { join, normalize } from "node:path";

const root = process.argv[2];
if (!root) throw new Error("usage: node-static.mjs ROOT");
const PIECE = 256 * 1024;
/** Reads in flight ahead of the socket; buffers = this + the ones the socket still holds. */
const AHEAD = 4;
const free = [];

/** @param {import("node:http").ServerResponse} res */
function drainedOrClosed(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done).off("close", done);
      resolve(undefined);
    };
    res.on("drain", done).on("close", done);
  });
}

/** @param {import("node:http").ServerResponse} res @param {import("node:fs/promises").FileHandle} file @param {number} size */
async function send(res, file, size) {
  const reads = [];
  let next = 0;
  const readAhead = () => {
    while (reads.length < AHEAD && next < size) {
      const buffer = free.pop() ?? Buffer.allocUnsafe(PIECE);
      const length = Math.min(PIECE, size - next);
      reads.push(file.read(buffer, 0, length, next).then(({ bytesRead }) => ({ buffer, piece: buffer.subarray(0, bytesRead) })));
      next += length;
    }
  };
  readAhead();
  while (reads.length > 0) {
    const { buffer, piece } = await reads.shift();
    readAhead();
    if (piece.length === 0) throw new Error("file shrank while served");
    const more = res.write(piece, () => free.push(buffer));
    // A client that leaves never drains; its reads ahead settle before the file is closed.
    if (!more) await drainedOrClosed(res);
    if (res.destroyed) {
      await Promise.allSettled(reads);
      return;
    }
  }
  res.end();
}

createServer(async (req, res) => {
  const path = join(root, normalize(decodeURIComponent(req.url ?? "/")).replace(/^(\.\.[/\\])+/, ""));
  let file;
  try {
    file = await open(path, "r");
    const { size } = await file.stat();
    res.writeHead(200, { "content-length": String(size), "content-type": "application/x-nix-nar" });
    await send(res, file, size);
  } catch (err) {
    if (!res.headersSent) res.writeHead(404).end();
    else res.destroy(err);
  } finally {
    await file?.close();
  }
}).listen(0, "127.0.0.1", function () {
  console.log(this.address().port);
});
