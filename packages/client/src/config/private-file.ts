import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Mode of files holding tokens: readable and writable by the owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Writes `text` to `path` with mode 0600, creating parent directories. An existing file keeps
 * its mode on write, so it is chmod-ed first (before the secret lands in it).
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await chmod(path, PRIVATE_FILE_MODE).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  await writeFile(path, text, { mode: PRIVATE_FILE_MODE });
}
