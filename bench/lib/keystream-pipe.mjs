// A NAR's bytes for bench/ingest-memory.mjs, made in a process of their own so the measured
// process holds only what the engine holds: `node keystream-pipe.mjs BYTES SEED` writes the
// keystream (keystream-blocks.mjs, 1 MiB blocks) to stdout, and `... BYTES SEED hash` prints
// its `sha256:<hex>` instead. The reader gets them as a pipe's 64 KiB reads, as an HTTP body or
// a file stream would arrive.
import { createHash } from "node:crypto";
import { once } from "node:events";
import { keystreamBlocks } from "./keystream-blocks.mjs";

const [total, seed, mode] = [Number(process.argv[2]), Number(process.argv[3] ?? 1), process.argv[4] ?? "bytes"];
const hash = createHash("sha256");
for (const block of keystreamBlocks(total, 2 ** 20, seed)) {
  if (mode === "hash") hash.update(block);
  else if (!process.stdout.write(block)) await once(process.stdout, "drain");
}
if (mode === "hash") process.stdout.write(`sha256:${hash.digest("hex")}\n`);
