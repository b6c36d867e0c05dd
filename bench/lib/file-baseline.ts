// The storage's physical limit for a chunk store: writing files of given sizes the way
// plugins/local-fs makes every chunk file durable (temporary file in the sharded directory, write,
// fsync, close, rename, and with `syncDirectories` an fsync of that directory so the rename
// is durable too, as the plugin does), several at a time, with no hashing, compression or
// database.
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mbps } from "./keystream.ts";

/** MB/s of payload for writing files of `sizes` bytes, `parallel` at a time, under `baseDir`. */
export async function fileWriteRate(sizes: readonly number[], parallel = 24, baseDir = tmpdir(), syncDirectories = false): Promise<number> {
  return (await fileWriteCost(sizes, parallel, baseDir, syncDirectories)).mbps;
}

/**
 * {@link fileWriteRate}, and the CPU each file cost this process (all its threads: mostly
 * kernel time in the thread pool), µs. Meaningful when nothing else runs in this process.
 */
export async function fileWriteCost(
  sizes: readonly number[],
  parallel = 24,
  baseDir = tmpdir(),
  syncDirectories = false,
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
          await file.sync();
          await file.close();
          await rename(temp, join(shard, key));
          if (syncDirectories) {
            const handle = await open(shard, "r");
            await handle.sync();
            await handle.close();
          }
        }
      }),
    );
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
