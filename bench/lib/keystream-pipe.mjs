// A NAR's bytes for bench/ingest-memory.mjs, made in a process of their own so the measured
// process holds only what the engine holds: `node keystream-pipe.mjs BYTES SEED` writes the
// AES-128-CTR keystream (the same bytes as keystream.ts with 1 MiB blocks) to stdout, and
// `... BYTES SEED hash` prints its `sha256:<hex>` instead. The reader gets them as a pipe's
// 64 KiB reads, as an HTTP body or a file stream would arrive.
import { createCipheriv, createHash } from "node:crypto";
import { once } from "node:events";

const [total, seed, mode] = [Number(process.argv[2]), Number(process.argv[3] ?? 1), process.argv[4] ?? "bytes"];
const MiB = 2 ** 20;
const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, seed), Buffer.alloc(16, 0));
const zeros = Buffer.alloc(MiB);
const hash = createHash("sha256");
for (let done = 0; done < total; done += MiB) {
  const block = cipher.update(zeros.subarray(0, Math.min(MiB, total - done)));
  if (mode === "hash") hash.update(block);
  else if (!process.stdout.write(block)) await once(process.stdout, "drain");
}
if (mode === "hash") process.stdout.write(`sha256:${hash.digest("hex")}\n`);
