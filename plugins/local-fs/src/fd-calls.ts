import { close, fdatasync, fsync, open, rename, unlink, write } from "node:fs";

/**
 * Promise forms of the few `node:fs` calls that write a file, on plain descriptors. Why not
 * `fs/promises`: its `FileHandle` is an event emitter with a close promise and a GC finalizer,
 * and each call there builds several promises and closures around the one thread-pool request.
 * For a 64 KiB chunk file (eight calls) that was about 22 KB of short-lived heap a chunk, a
 * quarter of the engine's allocations during an upload (BENCHMARKS.md, seventeenth pass). These
 * allocate one promise and one callback per call.
 */

type Settle<T> = { resolve: (value: T) => void; reject: (err: unknown) => void };

function done<T>(settle: Settle<T>): (err: NodeJS.ErrnoException | null, value?: T) => void {
  return (err, value) => (err ? settle.reject(err) : settle.resolve(value as T));
}

/** Opens `path` with `flags` (`"wx"`, `"r"`, ...); resolves to the descriptor. */
export function openFd(path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, 0o666, done({ resolve, reject })));
}

/** Writes all of `data` at `position`, looping over short writes. */
export async function writeAllFd(fd: number, data: Uint8Array, position = 0): Promise<void> {
  for (let offset = 0; offset < data.byteLength; ) {
    const written = await new Promise<number>((resolve, reject) =>
      write(fd, data, offset, data.byteLength - offset, position + offset, done({ resolve, reject })),
    );
    offset += written;
  }
}

export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, done({ resolve, reject })));
}

export function fdatasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, done({ resolve, reject })));
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, done({ resolve, reject })));
}

export function renamePath(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => rename(from, to, done({ resolve, reject })));
}

/** Removes `path`; a missing file is fine. */
export function unlinkIfPresent(path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    unlink(path, (err) => (err && err.code !== "ENOENT" ? reject(err) : resolve())),
  );
}
