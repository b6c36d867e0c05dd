// The storage's physical limit for a chunk store: writing files of given sizes the way
// plugins/local-fs makes every chunk file durable (temporary file in the sharded directory, write,
// fsync, close, rename, and an fsync of that directory so the rename is durable too, as the
// plugin does; or its batched variant, see `BaselineSync`), several at a time, with no hashing,
// compression or database.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { mbps } from "./keystream.ts";

/**
 * How the files are made durable: `file` fsyncs each file; `file+dir` also its directory after
 * the rename (local-fs's `sync = "file"`); `filesystem` fsyncs nothing per file and flushes the
 * whole filesystem once at the end with `sync -f` (local-fs's `sync = "filesystem"`, whose
 * flushes are shared by many files).
 */
export type BaselineSync = "file" | "file+dir" | "filesystem";

/** MB/s of payload for writing files of `sizes` bytes, `parallel` at a time, under `baseDir`. */
export async function fileWriteRate(sizes: readonly number[], parallel = 24, baseDir = tmpdir(), sync: BaselineSync = "file"): Promise<number> {
  return (await fileWriteCost(sizes, parallel, baseDir, sync)).mbps;
}

/**
 * {@link fileWriteRate}, and the CPU each file cost this process (all its threads: mostly
 * kernel time in the thread pool), µs. Meaningful when nothing else runs in this process. With
 * `filesystem` the `sync` process's own CPU is not counted (the flush's is mostly the kernel's
 * writeback threads', uncounted for the other modes too).
 */
export async function fileWriteCost(
  sizes: readonly number[],
  parallel = 24,
  baseDir = tmpdir(),
  sync: BaselineSync = "file",
): Promise<{ mbps: number; cpuMicrosPerFile: number }> {
  const dir = await mkdtemp(join(baseDir, "attic-ts-files-"));
  try {
    const data = Buffer.alloc(Math.max(1, ...sizes), 7);
    let next = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < sizes.length) {
          const n = sizes[next++]!;
          const key = randomUUID();
          const shard = join(dir, key[0]!, key.slice(0, 2));
          await mkdir(shard, { recursive: true });
          // Beside its target, as local-fs writes it.
          const temp = join(shard, `.${randomUUID()}.part`);
          const file = await open(temp, "wx");
          await file.write(data.subarray(0, n));
          if (sync !== "filesystem") await file.sync();
          await file.close();
          await rename(temp, join(shard, key));
          if (sync === "file+dir") {
            const handle = await open(shard, "r");
            await handle.sync();
            await handle.close();
          }
        }
      }),
    );
    if (sync === "filesystem") await promisify(execFile)("sync", ["-f", dir]);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { mbps: mbps(sizes.reduce((a, b) => a + b, 0), ms), cpuMicrosPerFile: (cpu.user + cpu.system) / Math.max(1, sizes.length) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `count` sizes adding up to `totalBytes` (as even as integers allow). */
export function evenSizes(count: number, totalBytes: number): number[] {
  const base = Math.floor(totalBytes / count);
  return Array.from({ length: count }, (_, i) => base + (i < totalBytes - base * count ? 1 : 0));
}
