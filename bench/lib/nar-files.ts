/**
 * Realistic NARs on disk: `nix-store --dump` of directories under /usr/lib and /usr/share (the
 * ELF objects, scripts and data that store paths are made of), each directory between 256 KiB
 * and `maxDirBytes` taken whole, larger ones split into their subdirectories. Stable order, so
 * two runs on one machine upload the same NARs.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { storePathHash } from "./bench-util.ts";

export interface NarFile {
  path: string;
  /** The directory the NAR was dumped from. */
  source: string;
  size: number;
  /** `sha256:<hex>` of the NAR. */
  narHash: string;
  storePathHash: string;
}

/** Bytes of regular files below `dir` (symlinks not followed). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isFile()) total += (await lstat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  return total;
}

/** Candidate directories in a stable order, each of 256 KiB .. maxDirBytes of files. */
async function* candidates(root: string, maxDirBytes: number): AsyncGenerator<string> {
  const names = (await readdir(root).catch(() => [] as string[])).sort();
  for (const name of names) {
    const path = join(root, name);
    const st = await lstat(path).catch(() => null);
    if (!st?.isDirectory()) continue;
    const bytes = await treeBytes(path);
    if (bytes < 256 * 1024) continue;
    if (bytes <= maxDirBytes) yield path;
    else yield* candidates(path, maxDirBytes);
  }
}

/** Dumps `dir` as a NAR into `out`, hashing on the way. Rejects if nix-store fails. */
export async function dumpNar(dir: string, out: string): Promise<{ size: number; narHash: string }> {
  const child = spawn("nix-store", ["--dump", dir], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("close", resolve));
  const hash = createHash("sha256");
  let size = 0;
  child.stdout.on("data", (d: Buffer) => {
    hash.update(d);
    size += d.length;
  });
  await pipeline(child.stdout, createWriteStream(out));
  const code = await exit;
  if (code !== 0) throw new Error(`nix-store --dump ${dir} failed (${code}): ${err}`);
  return { size, narHash: `sha256:${hash.digest("hex")}` };
}

/**
 * Writes NARs of real directories into `outDir` until `totalBytes` is reached (the last one is
 * kept whole, so the total is slightly above). Directories nix-store cannot dump are skipped.
 */
export async function makeNarFiles(outDir: string, totalBytes: number, maxDirBytes = 64 * 2 ** 20, roots = ["/usr/lib", "/usr/share"]): Promise<NarFile[]> {
  const nars: NarFile[] = [];
  let total = 0;
  for (const root of roots) {
    for await (const dir of candidates(root, maxDirBytes)) {
      if (total >= totalBytes) return nars;
      const path = join(outDir, `${nars.length}.nar`);
      try {
        const { size, narHash } = await dumpNar(dir, path);
        nars.push({ path, source: dir, size, narHash, storePathHash: storePathHash(`${dir}:${narHash}`) });
        total += size;
      } catch {
        // unreadable trees (sockets, permissions) are skipped
      }
    }
  }
  if (total < totalBytes) throw new Error(`only ${total} bytes of NARs could be made from ${roots.join(", ")}`);
  return nars;
}

/**
 * SHA-256 throughput over the files' bytes, MB/s: each file is read into memory first and only
 * the hashing is timed (the baseline is what hashing the input costs, not the disk).
 */
export async function sha256Files(paths: string[]): Promise<number> {
  let ms = 0;
  let bytes = 0;
  for (const p of paths) {
    const data = await readFile(p);
    const t0 = performance.now();
    createHash("sha256").update(data).digest();
    ms += performance.now() - t0;
    bytes += data.length;
  }
  return bytes / 1e6 / (ms / 1000);
}
