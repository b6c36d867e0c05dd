import { createHash, randomUUID } from "node:crypto";
import type { Database, NewChunk } from "@attic-ts/core";

// An upload's database traffic, as UploadSession makes it, for the tests with several writers on
// one file. Imported by a child process too, so names are random rather than counted.

/** A valid, unheld zstd chunk that every round holds for a while, as a deduplicated upload does. */
export async function insertSharedChunk(db: Database): Promise<string> {
  const row = newChunk();
  const id = await db.chunks.insertPendingChunk(row);
  await db.chunks.markChunkValid(id, { fileHash: row.chunkHash, fileSize: row.chunkSize });
  await db.chunks.releaseChunks([id]);
  return row.chunkHash;
}

/**
 * One upload: a transaction that reads before it writes (the cache lookup, then the lease and a
 * hold on `sharedChunk`), a claim in the lease repository's own transaction (which also reads
 * first: is the lease still there), then either a commit transaction or a bare close. Resolves
 * the new chunk's remote_file_id.
 */
export async function uploadRound(db: Database, sharedChunk: string, commit: boolean): Promise<string> {
  const soon = new Date(Date.now() + 60_000);
  const lease = await db.transaction(async (tx) => {
    await tx.caches.findCache("no-such-cache");
    const id = await tx.leases.openLease(soon);
    await tx.leases.findAndLockChunks(id, [sharedChunk], "zstd");
    return id;
  });
  const row = newChunk();
  const [chunkId] = await db.leases.insertPendingChunks(lease, [row]);
  if (commit) {
    await db.transaction(async (tx) => {
      await tx.leases.renewLease(lease, soon);
      await tx.chunks.markChunkValid(chunkId!, { fileHash: row.chunkHash, fileSize: row.chunkSize });
      await tx.leases.closeLease(lease);
    });
  } else {
    await db.leases.closeLease(lease);
  }
  return row.remoteFileId;
}

/**
 * Runs `count` upload rounds, `parallel` at a time; resolves their chunks' remote_file_ids. On a
 * failure it still waits for the rounds under way, so none runs on after the caller closes.
 */
export async function uploadRounds(db: Database, sharedChunk: string, count: number, parallel = 8): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) ids.push(await uploadRound(db, sharedChunk, next++ % 2 === 0));
  };
  await settleAll(Array.from({ length: parallel }, worker));
  return ids;
}

/** `Promise.all` that rejects only once every promise has settled. */
export async function settleAll<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const outcomes = await Promise.allSettled(promises);
  const failed = outcomes.find((o) => o.status === "rejected");
  if (failed) throw failed.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<T>).value);
}

function newChunk(): NewChunk {
  const name = `${randomUUID()}.chunk`;
  return {
    chunkHash: `sha256:${createHash("sha256").update(name).digest("hex")}`,
    chunkSize: 100,
    compression: "zstd",
    remoteFile: { Local: { name } },
    remoteFileId: `local:${name}`,
    createdAt: new Date(),
  };
}
