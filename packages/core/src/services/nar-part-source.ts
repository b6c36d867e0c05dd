import type { Database } from "../database/database.ts";
import type { ChunkRow } from "../database/model.ts";
import { IncompleteNarError } from "../errors.ts";
import type { PartSource, StoredPart } from "./part-pages.ts";

/** A valid chunk row as a part to serve; a missing or not-valid chunk means an incomplete NAR. */
export function chunkPart(row: ChunkRow | null): StoredPart {
  if (row === null) throw new IncompleteNarError();
  return { ref: row.remoteFile, size: row.fileSize };
}

/**
 * The stored files of a NAR with `count` chunks, read from the database a page at a time as
 * the download proceeds, so a download holds a page of chunk rows, not the whole list. A chunk
 * that went missing meanwhile (a NAR deleted mid-download) fails that page, and so the stream.
 */
export function narPartSource(db: Database, narId: number, count: number): PartSource {
  return {
    count,
    async load(from, limit, signal) {
      signal.throwIfAborted();
      const rows = await db.nars.findNarChunks(narId, { from, limit });
      return rows.map(chunkPart);
    },
  };
}
