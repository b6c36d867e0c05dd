import { createHash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Real files from the machine (/usr/lib, /usr/share), concatenated in a stable order up to
 * `limit` bytes: the mix of ELF objects, text and data that NARs are made of. Files with the
 * same content are taken once, so deduplication cannot flatter a compression figure.
 */
export async function realisticBytes(limit: number, dirs = ["/usr/lib", "/usr/share"]): Promise<Buffer> {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  let total = 0;
  async function walk(dir: string): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (total >= limit) return;
      const path = join(dir, name);
      try {
        const st = await lstat(path);
        if (st.isDirectory()) await walk(path);
        else if (st.isFile() && st.size > 0) {
          const bytes = await readFile(path);
          const digest = createHash("sha256").update(bytes).digest("hex");
          if (seen.has(digest)) continue;
          seen.add(digest);
          parts.push(bytes);
          total += bytes.length;
        }
      } catch {
        // unreadable entries are skipped
      }
    }
  }
  for (const dir of dirs) if (total < limit) await walk(dir);
  if (total < limit) throw new Error(`only ${total} bytes of files found under ${dirs.join(", ")}`);
  return Buffer.concat(parts).subarray(0, limit);
}
