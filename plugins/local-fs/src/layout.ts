import { randomUUID } from "node:crypto";
import { mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StorageError } from "@attic-ts/core";
import { syncDirectory } from "./file-io.ts";
import { errnoOf, failsAs, storageError } from "./storage-errors.ts";

/**
 * Attic's on-disk layout, version 1 (Attic PR #98): key `k` lives at `{root}/{k[0]}/{k[0..2]}/{k}`,
 * and `{root}/VERSION` holds the version. Version 0 kept every file at the top level.
 */
export const LAYOUT_VERSION = 1;
const VERSION_FILE = "VERSION";
/**
 * Where earlier versions wrote every temporary file, and where the layout migration still
 * writes VERSION; a dot name can never be a shard directory (keys never start with ".").
 */
export const TEMP_DIR = ".tmp";
/** The end of a temporary file's name; it is written beside its target as `.{uuid}.part`. */
export const TEMP_SUFFIX = ".part";
/** A temporary file beside stored ones: a dot name (never a key) ending in `TEMP_SUFFIX`. */
export const isTempName = (name: string): boolean => name.startsWith(".") && name.endsWith(TEMP_SUFFIX);

/**
 * Why `key` cannot be a file name here, or null. Keys are engine-generated (`{uuid}.chunk`);
 * besides path tricks this refuses non-ASCII, because Attic shards by the key's first *bytes*
 * and a JS string index is a UTF-16 unit, so the two layouts would disagree.
 */
export function keyProblem(key: string): string | null {
  if (key.length < 2) return "it is shorter than 2 characters";
  if (!/^[\x21-\x7e]+$/.test(key)) return "it is not printable ASCII";
  if (key.includes("/") || key.includes("\\")) return "it contains a path separator";
  if (key.includes("..")) return 'it contains ".."';
  if (key.startsWith(".")) return 'it starts with "."';
  return null;
}

/** The path of a (valid) key's file under `root`. */
export function pathFor(root: string, key: string): string {
  return join(root, key.slice(0, 1), key.slice(0, 2), key);
}

/** The shard directories under `root`, `{k[0]}/{k[0..2]}`, each with its two-character prefix. */
export async function* shardDirectories(root: string): AsyncGenerator<{ dir: string; prefix: string }> {
  for (const first of await subdirectories(root)) {
    if (first.length !== 1) continue;
    const firstDir = join(root, first);
    for (const second of await subdirectories(firstDir)) {
      if (second.length === 2 && second[0] === first) yield { dir: join(firstDir, second), prefix: second };
    }
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  const entries = await failsAs(readdir(dir, { withFileTypes: true }), "read", dir);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name);
}

/** The layout version recorded in `root`: 0 when there is no VERSION file. */
export async function readLayoutVersion(root: string): Promise<number> {
  const path = join(root, VERSION_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return 0;
    throw storageError("read", path, err);
  }
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) throw new StorageError(`${path} does not contain a layout version: ${JSON.stringify(trimmed)}.`);
  return Number(trimmed);
}

/**
 * Moves a layout-0 (flat) directory to layout 1. Each file is renamed into its shard, then
 * VERSION is written last, so an interrupted migration simply continues on the next start.
 * `ensureDir` creates a shard directory (the store's, which remembers the ones it made).
 */
export async function migrateFromFlat(root: string, ensureDir: (dir: string) => Promise<void>): Promise<void> {
  const entries = await failsAs(readdir(root, { withFileTypes: true }), "read", root);
  for (const entry of entries) {
    if (!entry.isFile() || entry.name === VERSION_FILE || keyProblem(entry.name)) continue;
    const target = pathFor(root, entry.name);
    await ensureDir(dirname(target));
    await failsAs(rename(join(root, entry.name), target), "move", join(root, entry.name));
  }
  const tempDir = join(root, TEMP_DIR);
  const temp = join(tempDir, `${VERSION_FILE}.${randomUUID()}`);
  await failsAs(mkdir(tempDir, { recursive: true }), "create", tempDir);
  await failsAs(writeFile(temp, String(LAYOUT_VERSION), { flush: true }), "write", temp);
  await failsAs(rename(temp, join(root, VERSION_FILE)), "write", join(root, VERSION_FILE));
  await syncDirectory(root);
}
