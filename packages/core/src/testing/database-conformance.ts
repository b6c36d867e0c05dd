import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../database/database.ts";
import { isAtticError } from "../errors.ts";
import {
  cacheRow,
  chunkRow,
  insertCache,
  insertPlacedObjects,
  insertValidChunk,
  narRow,
  objectRow,
  sha256Like,
  storePathHash,
  unique,
} from "./database-fixtures.ts";

export interface DatabaseConformanceOptions {
  /**
   * A Database over a fresh, empty (unmigrated) database or schema, one per call; the suite
   * calls it before every case and runs `migrate()` itself.
   */
  create: () => Promise<Database>;
  /** Releases what `create` made; default `db.close()`. */
  cleanup?: (db: Database) => Promise<void>;
  /**
   * A second `Database` on the same database as `db`, with connections of its own as another
   * server process would have; the suite closes it. Without it, the case that needs one is
   * skipped (an in-memory database cannot have a second handle).
   */
  openAnother?: (db: Database) => Promise<Database>;
}

/**
 * Registers the cases every `Database` must pass: migrations, cache CRUD with soft and hard
 * destroy, NAR and chunk locking, chunk lists, Attic's object upsert, lookups restricted to
 * live caches and valid NARs, batching, transactions (also through two handles) and timestamps.
 */
export function describeDatabaseConformance(name: string, options: DatabaseConformanceOptions): void {
  describe(`Database conformance: ${name}`, () => {
    let db: Database;

    beforeEach(async () => {
      db = await options.create();
      await db.migrate();
    });

    afterEach(async () => {
      await (options.cleanup ? options.cleanup(db) : db.close());
    });

    it("migrates from scratch, and migrating again is a no-op that keeps data", async () => {
      const { name: cacheName } = await insertCache(db);
      await db.migrate();
      await db.migrate();
      expect((await db.caches.findCache(cacheName))?.name).toBe(cacheName);
    });

    it("inserts, finds and updates a cache; a taken name gives false", async () => {
      const row = cacheRow(unique("cache"), { isPublic: true, retentionPeriod: 0 });
      expect(await db.caches.insertCache(row)).toBe(true);
      const found = await db.caches.findCache(row.name);
      expect(found).toMatchObject({ ...row, deletedAt: null });
      expect(typeof found?.id).toBe("number");
      expect(await db.caches.insertCache(cacheRow(row.name))).toBe(false);
      expect(await db.caches.findCache(unique("absent"))).toBeNull();

      const id = found!.id;
      expect(
        await db.caches.updateCache(id, {
          isPublic: false,
          priority: 10,
          storeDir: "/other/store",
          upstreamCacheKeyNames: [],
          keypair: "k:ey",
          retentionPeriod: 86_400,
        }),
      ).toBe(true);
      expect(await db.caches.findCache(row.name)).toMatchObject({
        isPublic: false, priority: 10, storeDir: "/other/store", upstreamCacheKeyNames: [], keypair: "k:ey",
        retentionPeriod: 86_400,
      });
      expect(await db.caches.updateCache(id, { retentionPeriod: null })).toBe(true);
      expect((await db.caches.findCache(row.name))?.retentionPeriod).toBeNull();
      expect(await db.caches.updateCache(id, {})).toBe(true);
      expect(await db.caches.updateCache(id + 1_000_000, { priority: 1 })).toBe(false);
    });

    it("soft-destroys a cache: gone for lookups and updates, name still taken", async () => {
      const cache = await insertCache(db);
      const now = new Date(Date.UTC(2025, 5, 6, 7, 8, 9, 10));
      expect(await db.caches.destroyCache(cache.id, { soft: true, now })).toBe(true);
      expect(await db.caches.findCache(cache.name)).toBeNull();
      expect(await db.caches.updateCache(cache.id, { priority: 1 })).toBe(false);
      expect(await db.caches.destroyCache(cache.id, { soft: true, now })).toBe(false);
      expect(await db.caches.destroyCache(cache.id, { soft: false, now })).toBe(false);
      expect(await db.caches.insertCache(cacheRow(cache.name))).toBe(false);
    });

    it("hard-destroys a cache, cascading to its objects; the name becomes free", async () => {
      const cache = await insertCache(db);
      const nar = narRow();
      const narId = await db.nars.insertNar(nar);
      const hash = storePathHash(1);
      await db.objects.upsertObject(objectRow(cache.id, narId, hash));
      expect(await db.objects.findObject(cache.name, hash)).not.toBeNull();

      expect(await db.caches.destroyCache(cache.id, { soft: false, now: new Date() })).toBe(true);
      expect(await db.caches.findCache(cache.name)).toBeNull();
      expect(await db.caches.destroyCache(cache.id, { soft: false, now: new Date() })).toBe(false);
      expect(await db.caches.insertCache(cacheRow(cache.name))).toBe(true);
      expect(await db.objects.findObject(cache.name, hash)).toBeNull();
      // The NAR survives, an orphan for GC.
      expect((await db.nars.findAndLockNar(nar.narHash))?.id).toBe(narId);
    });

    it("locks, releases, validates and deletes NARs", async () => {
      const valid = narRow({ numChunks: 3 });
      const id = await db.nars.insertNar(valid);
      const locked = await db.nars.findAndLockNar(valid.narHash);
      expect(locked).toEqual({ ...valid, id, holdersCount: 1 });
      expect((await db.nars.findAndLockNar(valid.narHash))?.holdersCount).toBe(2);
      await db.nars.releaseNar(id);
      await db.nars.releaseNar(id);
      await db.nars.releaseNar(id); // never below zero
      expect((await db.nars.findAndLockNar(valid.narHash))?.holdersCount).toBe(1);
      expect(await db.nars.findAndLockNar(sha256Like())).toBeNull();

      const pending = narRow({ state: "P", numChunks: 0 });
      const pendingId = await db.nars.insertNar(pending);
      expect(await db.nars.findAndLockNar(pending.narHash)).toBeNull();
      await db.nars.markNarValid(pendingId, 7);
      expect(await db.nars.findAndLockNar(pending.narHash)).toMatchObject({ id: pendingId, state: "V", numChunks: 7 });

      await db.nars.deleteNar(pendingId);
      expect(await db.nars.findAndLockNar(pending.narHash)).toBeNull();
    });

    it("inserts chunks pending and held; only valid chunks of the same compression lock", async () => {
      const chunk = chunkRow({ compression: "xz" });
      const id = await db.chunks.insertPendingChunk(chunk);
      expect(await db.chunks.findAndLockChunk(chunk.chunkHash, "xz")).toBeNull();
      await db.chunks.markChunkValid(id, { fileHash: "sha256:" + "ab".repeat(32), fileSize: 4321 });
      expect(await db.chunks.findAndLockChunk(chunk.chunkHash, "zstd")).toBeNull();
      const locked = await db.chunks.findAndLockChunk(chunk.chunkHash, "xz");
      expect(locked).toEqual({
        ...chunk,
        id,
        state: "V",
        fileHash: "sha256:" + "ab".repeat(32),
        fileSize: 4321,
        holdersCount: 2, // 1 from birth + this lock
      });

      await db.chunks.releaseChunks([id, id]);
      expect((await db.chunks.findAndLockChunk(chunk.chunkHash, "xz"))?.holdersCount).toBe(1);
      await db.chunks.releaseChunks([id, id, id]);
      expect((await db.chunks.findAndLockChunk(chunk.chunkHash, "xz"))?.holdersCount).toBe(1);
    });

    it("inserts, validates and locks chunks in batches, one valid row per hash", async () => {
      const chunks = Array.from({ length: 130 }, () => chunkRow({ compression: "zstd" }));
      const ids = await db.chunks.insertPendingChunks(chunks);
      expect(new Set(ids).size).toBe(130);
      const hashes = chunks.map((c) => c.chunkHash);
      expect((await db.chunks.findAndLockChunks(hashes, "zstd")).size).toBe(0); // still pending
      await db.chunks.markChunksValid(ids.map((id, i) => ({ id, fileHash: `sha256:${String(i).padStart(64, "0")}`, fileSize: i })));
      // A second valid row with the same hash as the first: only one of the two is locked.
      const twin = await insertValidChunk(db, { ...chunkRow({ compression: "zstd" }), chunkHash: hashes[0]! });
      const absent = sha256Like();
      const found = await db.chunks.findAndLockChunks([...hashes, hashes[0]!, absent], "zstd");
      expect(found.size).toBe(130);
      expect(found.has(absent)).toBe(false);
      for (const [i, hash] of hashes.entries()) {
        const row = found.get(hash)!;
        if (i > 0) expect(row).toMatchObject({ id: ids[i], state: "V", fileSize: i, holdersCount: 2 });
      }
      expect([ids[0], twin]).toContain(found.get(hashes[0]!)!.id);
      expect((await db.chunks.findAndLockChunks(hashes, "xz")).size).toBe(0);
    });

    it("records each hold under its lease; closing the lease gives each back exactly once", async () => {
      const soon = () => new Date(Date.now() + 60_000);
      const chunk = await validChunk(db);
      const nar = narRow();
      const narId = await db.nars.insertNar(nar);
      const a = await db.leases.openLease(soon());
      const b = await db.leases.openLease(soon());
      expect(a).not.toBe(b);
      expect((await db.leases.findAndLockChunk(a, chunk.chunkHash, "zstd"))?.holdersCount).toBe(1);
      expect((await db.leases.findAndLockChunks(a, [chunk.chunkHash, sha256Like()], "zstd")).get(chunk.chunkHash)?.holdersCount).toBe(2);
      expect((await db.leases.findAndLockChunk(b, chunk.chunkHash, "zstd"))?.holdersCount).toBe(3);
      expect((await db.leases.findAndLockNar(a, nar.narHash))?.holdersCount).toBe(1);
      const [pendingChunk] = await db.leases.insertPendingChunks(a, [chunkRow()]);
      const asked = narRow({ state: "V" });
      const pendingNar = await db.leases.insertPendingNar(a, asked);
      expect(await db.nars.findAndLockNar(asked.narHash)).toBeNull(); // pending
      expect(await db.leases.renewLease(a, soon())).toBe(true);

      await db.leases.closeLease(a);
      await db.leases.closeLease(a); // a second close changes nothing
      expect((await db.chunks.findAndLockChunk(chunk.chunkHash, "zstd"))?.holdersCount).toBe(2); // b's + this one
      expect((await db.nars.findAndLockNar(nar.narHash))?.holdersCount).toBe(1); // only this one
      expect(await db.leases.renewLease(a, soon())).toBe(false);
      // Rows inserted held come back unheld (and the NAR pending, whatever was asked).
      expect(await db.chunks.deleteChunkIfUnused(pendingChunk!)).toBe(true);
      await db.nars.markNarValid(pendingNar, 1);
      expect((await db.nars.findAndLockNar(asked.narHash))?.holdersCount).toBe(1);
      expect(narId).toBeGreaterThan(0);
    });

    it("takes holds inside a caller's transaction, all or nothing with it", async () => {
      const soon = () => new Date(Date.now() + 60_000);
      const chunk = await validChunk(db);
      const nar = narRow();
      await db.nars.insertNar(nar);
      const pending = chunkRow();
      let rolledBack = 0;
      await expect(
        db.transaction(async (tx) => {
          rolledBack = await tx.leases.openLease(soon());
          expect((await tx.leases.findAndLockChunks(rolledBack, [chunk.chunkHash], "zstd")).get(chunk.chunkHash)?.holdersCount).toBe(1);
          expect((await tx.leases.findAndLockNar(rolledBack, nar.narHash))?.holdersCount).toBe(1);
          await tx.leases.insertPendingChunks(rolledBack, [pending]);
          throw new Error("rolled back");
        }),
      ).rejects.toThrow("rolled back");
      expect(await db.leases.renewLease(rolledBack, soon())).toBe(false); // no lease
      expect([...(await db.gc.referencedFiles([pending.remoteFileId]))]).toEqual([]); // no row
      // Opened, used and closed in one committed transaction: every hold given back.
      await db.transaction(async (tx) => {
        const lease = await tx.leases.openLease(soon());
        await tx.leases.findAndLockChunks(lease, [chunk.chunkHash], "zstd");
        await tx.leases.findAndLockNar(lease, nar.narHash);
        await tx.leases.closeLease(lease);
      });
      expect((await db.chunks.findAndLockChunk(chunk.chunkHash, "zstd"))?.holdersCount).toBe(1); // only this one
      expect((await db.nars.findAndLockNar(nar.narHash))?.holdersCount).toBe(1);
    });

    it("takes no hold under a lease that is gone", async () => {
      const chunk = await validChunk(db);
      const nar = narRow();
      await db.nars.insertNar(nar);
      const lease = await db.leases.openLease(new Date(Date.now() - 1000));
      await db.gc.reapExpiredLeases(new Date(), 100);
      const lost = { name: "UploadLeaseLostError", code: "DatabaseError", leaseId: lease };
      await expect(db.leases.findAndLockChunks(lease, [chunk.chunkHash], "zstd")).rejects.toMatchObject(lost);
      await expect(db.leases.findAndLockChunk(lease, chunk.chunkHash, "zstd")).rejects.toMatchObject(lost);
      await expect(db.leases.findAndLockNar(lease, nar.narHash)).rejects.toMatchObject(lost);
      const row = chunkRow();
      await expect(db.leases.insertPendingChunks(lease, [row])).rejects.toMatchObject(lost);
      await expect(db.leases.insertPendingNar(lease, narRow())).rejects.toMatchObject(lost);
      expect([...(await db.gc.referencedFiles([row.remoteFileId]))]).toEqual([]);
      expect((await db.chunks.findAndLockChunk(chunk.chunkHash, "zstd"))?.holdersCount).toBe(1); // only this one
      expect((await db.nars.findAndLockNar(nar.narHash))?.holdersCount).toBe(1);
    });

    it("inside one transaction, a lease closed there takes no holds afterwards", async () => {
      const hash = (await validChunk(db)).chunkHash;
      const lease = await db.leases.openLease(new Date(Date.now() + 60_000));
      const lost = { name: "UploadLeaseLostError", code: "DatabaseError", leaseId: lease };
      const failure = await db
        .transaction(async (tx) => {
          await tx.leases.findAndLockChunks(lease, [hash], "zstd");
          await tx.leases.closeLease(lease);
          await tx.leases.findAndLockChunks(lease, [hash], "zstd");
        })
        .then(() => undefined, (err: unknown) => err);
      expect(failure).toMatchObject(lost);
      // Rolled back whole: no hold was kept (this lock is the only one), and the lease is open.
      expect((await db.chunks.findAndLockChunk(hash, "zstd"))?.holdersCount).toBe(1);
      expect(await db.leases.renewLease(lease, new Date(Date.now() + 60_000))).toBe(true);
      await db.leases.closeLease(lease);
    });

    it("reaps only expired leases, giving their holds back; a reaped lease cannot be renewed", async () => {
      const hash = (await validChunk(db)).chunkHash;
      const expired = await db.leases.openLease(new Date(Date.now() - 1000));
      const live = await db.leases.openLease(new Date(Date.now() + 60_000));
      await db.leases.findAndLockChunk(expired, hash, "zstd");
      await db.leases.findAndLockChunk(expired, hash, "zstd");
      await db.leases.findAndLockChunk(live, hash, "zstd");
      expect(await db.gc.reapExpiredLeases(new Date(), 100)).toEqual({ leases: 1, holds: 2 });
      expect(await db.gc.reapExpiredLeases(new Date(), 100)).toEqual({ leases: 0, holds: 0 });
      expect(await db.leases.renewLease(expired, new Date(Date.now() + 60_000))).toBe(false);
      expect(await db.leases.renewLease(live, new Date(Date.now() + 60_000))).toBe(true);
      expect((await db.chunks.findAndLockChunk(hash, "zstd"))?.holdersCount).toBe(2); // live's + this one
    });

    it("tells which remote_file_ids some chunk row records, in batches", async () => {
      const rows = Array.from({ length: 3 }, () => chunkRow());
      await db.chunks.insertPendingChunks(rows);
      const absent = Array.from({ length: 1200 }, (_, i) => `local:absent-${i}.chunk`);
      const found = await db.gc.referencedFiles([...absent, ...rows.map((r) => r.remoteFileId), rows[0]!.remoteFileId]);
      expect([...found].sort()).toEqual(rows.map((r) => r.remoteFileId).sort());
    });

    it("tells whether any chunk row records a file outside a prefix, wildcards taken literally", async () => {
      const row = chunkRow();
      await db.chunks.insertPendingChunk(row);
      const prefix = row.remoteFileId.slice(0, row.remoteFileId.indexOf(":") + 1);
      expect(await db.gc.hasFilesOutside(prefix)).toBe(false);
      expect(await db.gc.hasFilesOutside("")).toBe(false);
      expect(await db.gc.hasFilesOutside("elsewhere:")).toBe(true);
      // "%" and "_" in a prefix are characters, not LIKE wildcards.
      expect(await db.gc.hasFilesOutside("%")).toBe(true);
      expect(await db.gc.hasFilesOutside("_")).toBe(true);
    });

    it("lets one holder at a time have the collector lock", async () => {
      const first = await db.tryAcquireGcLock();
      expect(first).not.toBeNull();
      expect(await db.tryAcquireGcLock()).toBeNull();
      await first!.release();
      await first!.release();
      const second = await db.tryAcquireGcLock();
      expect(second).not.toBeNull();
      await second!.release();
    });

    it("rejects a duplicate remote_file_id with a DatabaseError", async () => {
      const chunk = chunkRow();
      await db.chunks.insertPendingChunk(chunk);
      const err = await db.chunks.insertPendingChunk({ ...chunk, chunkHash: sha256Like() }).catch((e: unknown) => e);
      expect(isAtticError(err) && err.code).toBe("DatabaseError");
      expect((err as Error).message).toContain(chunk.remoteFileId);
    });

    it("deletes a chunk only when unheld and unreferenced", async () => {
      const chunk = chunkRow();
      const id = await insertValidChunk(db, chunk);
      expect(await db.chunks.deleteChunkIfUnused(id)).toBe(false); // held since birth
      await db.chunks.releaseChunks([id]);
      const narId = await db.nars.insertNar(narRow());
      await db.nars.insertChunkRefs(narId, [id]);
      expect(await db.chunks.deleteChunkIfUnused(id)).toBe(false); // referenced
      await db.nars.deleteNar(narId); // chunkrefs cascade
      expect(await db.chunks.deleteChunkIfUnused(id)).toBe(true);
      expect(await db.chunks.deleteChunkIfUnused(id)).toBe(false);
      expect(await db.chunks.findAndLockChunk(chunk.chunkHash, chunk.compression)).toBeNull();
    });

    it("round-trips a NAR's ordered chunk list; a chunk that is not valid is a null entry", async () => {
      const a = await insertValidChunk(db);
      const b = await insertValidChunk(db);
      const pending = await db.chunks.insertPendingChunk(chunkRow());
      const narId = await db.nars.insertNar(narRow({ state: "P", numChunks: 0 }));
      await db.nars.insertChunkRefs(narId, [b, a, b]);
      expect((await db.nars.findNarChunks(narId)).map((c) => c?.id)).toEqual([b, a, b]);
      expect(await db.nars.narHasMissingChunks(narId)).toBe(false);
      expect((await db.nars.findNarChunks(narId))[1]).toMatchObject({ id: a, state: "V", fileSize: 1000 });

      const holed = await db.nars.insertNar(narRow());
      await db.nars.insertChunkRefs(holed, [a, pending, b]);
      const chunks = await db.nars.findNarChunks(holed);
      expect(chunks.map((c) => c?.id ?? null)).toEqual([a, null, b]);
      expect(await db.nars.narHasMissingChunks(holed)).toBe(true);
      expect(await db.nars.findNarChunks(await db.nars.insertNar(narRow()))).toEqual([]);
    });

    it("inserts long chunk lists in batches, in order", async () => {
      const ids = [await insertValidChunk(db), await insertValidChunk(db), await insertValidChunk(db)];
      const list = Array.from({ length: 1201 }, (_, i) => ids[(i * 7) % 3]!);
      const narId = await db.nars.insertNar(narRow());
      await db.nars.insertChunkRefs(narId, list);
      expect((await db.nars.findNarChunks(narId)).map((c) => c?.id)).toEqual(list);
    });

    it("reads a NAR's chunk list a page at a time by seq, holes included", async () => {
      const ids = [await insertValidChunk(db), await insertValidChunk(db)];
      const pending = await db.chunks.insertPendingChunk(chunkRow());
      const list = Array.from({ length: 1201 }, (_, i) => (i === 700 ? pending : ids[i % 2]!));
      const narId = await db.nars.insertNar(narRow());
      await db.nars.insertChunkRefs(narId, list);
      const other = await db.nars.insertNar(narRow());
      await db.nars.insertChunkRefs(other, [ids[1]!, ids[0]!]);
      const pages: Array<number | null> = [];
      for (let from = 0; from < list.length; from += 500) {
        const page = await db.nars.findNarChunks(narId, { from, limit: 500 });
        expect(page).toHaveLength(Math.min(500, list.length - from));
        pages.push(...page.map((c) => c?.id ?? null));
      }
      expect(pages).toEqual(list.map((id) => (id === pending ? null : id)));
      expect((await db.nars.findNarChunks(narId, { from: 1199, limit: 10 })).map((c) => c?.id)).toEqual(list.slice(1199));
      expect(await db.nars.findNarChunks(narId, { from: 1201, limit: 10 })).toEqual([]);
      expect((await db.nars.findNarChunks(other, { from: 1, limit: 1 })).map((c) => c?.id)).toEqual([ids[0]]);
    });

    it("upserts objects as Attic does: a re-push resets created_at and last_accessed_at", async () => {
      const cache = await insertCache(db);
      const nar1 = await db.nars.insertNar(narRow());
      const nar2 = await db.nars.insertNar(narRow());
      const hash = storePathHash(2);
      const first = objectRow(cache.id, nar1, hash, { system: "x86_64-linux", ca: "fixed:r:sha256:abc" });
      await db.objects.upsertObject(first);
      const found = await db.objects.findObject(cache.name, hash);
      expect(found?.object).toMatchObject({ ...first, lastAccessedAt: null });
      expect(found?.cache).toMatchObject({ id: cache.id, name: cache.name });
      expect(found?.nar.id).toBe(nar1);

      const touched = new Date(Date.UTC(2024, 6, 1, 0, 0, 0, 1));
      await db.objects.touchObject(found!.object.id, touched);
      expect((await db.objects.findObject(cache.name, hash))?.object.lastAccessedAt?.getTime()).toBe(touched.getTime());

      const second = objectRow(cache.id, nar2, hash, {
        createdAt: new Date(Date.UTC(2024, 7, 1, 12, 0, 0, 0)),
        sigs: [],
        references: [],
        deriver: null,
        createdBy: null,
      });
      await db.objects.upsertObject(second);
      const after = await db.objects.findObject(cache.name, hash);
      expect(after?.object).toMatchObject({ ...second, system: null, lastAccessedAt: null, id: found!.object.id });
      expect(after?.nar.id).toBe(nar2);
    });

    it("finds objects only in live caches and with valid NARs", async () => {
      const cache = await insertCache(db);
      const other = await insertCache(db);
      const pendingNar = await db.nars.insertNar(narRow({ state: "P" }));
      const hash = storePathHash(3);
      await db.objects.upsertObject(objectRow(cache.id, pendingNar, hash));
      expect(await db.objects.findObject(cache.name, hash)).toBeNull();
      expect(await db.objects.findPresentPaths(cache.name, [hash])).toEqual([]);
      await db.nars.markNarValid(pendingNar, 1);
      expect((await db.objects.findObject(cache.name, hash))?.nar).toMatchObject({ id: pendingNar, state: "V" });
      expect(await db.objects.findObject(other.name, hash)).toBeNull();
      expect(await db.objects.findObject(cache.name, storePathHash(4))).toBeNull();
      await db.caches.destroyCache(cache.id, { soft: true, now: new Date() });
      expect(await db.objects.findObject(cache.name, hash)).toBeNull();
      expect(await db.objects.findPresentPaths(cache.name, [hash])).toEqual([]);
    });

    it("finds a live cache and its object in one lookup, telling a missing cache from a missing object", async () => {
      const cache = await insertCache(db);
      const other = await insertCache(db);
      const narId = await db.nars.insertNar(narRow());
      const pendingNar = await db.nars.insertNar(narRow({ state: "P" }));
      const hash = storePathHash(21);
      const pendingHash = storePathHash(22);
      await db.objects.upsertObject(objectRow(cache.id, narId, hash));
      await db.objects.upsertObject(objectRow(cache.id, pendingNar, pendingHash));

      const hit = await db.objects.findCacheObject(cache.name, hash);
      expect(hit?.cache).toEqual(await db.caches.findCache(cache.name));
      expect(hit?.found).toEqual(await db.objects.findObject(cache.name, hash));
      expect(hit?.found?.object).toMatchObject({ cacheId: cache.id, narId, storePathHash: hash });
      expect(hit?.found?.nar).toMatchObject({ id: narId, state: "V" });
      // A missing object, an object of another cache, a pending NAR: the cache, nothing found.
      for (const [name, h] of [[cache.name, storePathHash(23)], [other.name, hash], [cache.name, pendingHash]] as const) {
        const miss = await db.objects.findCacheObject(name, h);
        expect(miss).toEqual({ cache: await db.caches.findCache(name), found: null });
      }
      expect(await db.objects.findCacheObject(unique("absent"), hash)).toBeNull();
      await db.caches.destroyCache(cache.id, { soft: true, now: new Date() });
      expect(await db.objects.findCacheObject(cache.name, hash)).toBeNull();
    });

    it("finds many objects of a live cache in one lookup: found, absent, pending, in another cache, repeated", async () => {
      const hashes = Array.from({ length: 40 }, (_, i) => storePathHash(i, 9));
      const kind = (i: number) => (i % 4 === 0 ? "present" : i % 4 === 1 ? "other" : i % 4 === 2 ? "pending" : "absent");
      const { cache, other } = await insertPlacedObjects(db, hashes, kind);
      const cacheRow = await db.caches.findCache(cache.name);

      const all = await db.objects.findCacheObjects(cache.name, [...hashes, hashes[0]!, hashes[3]!]);
      expect(all?.cache).toEqual(cacheRow);
      const present = hashes.filter((_, i) => kind(i) === "present");
      expect([...all!.found.keys()].sort()).toEqual([...present].sort());
      for (const hash of present) expect(all!.found.get(hash)).toEqual(await db.objects.findObject(cache.name, hash));

      // Whatever comes first in the list (a pending NAR, another cache's object, nothing), the
      // cache row comes back; so it does when nothing is found, and for an empty list.
      for (const first of [2, 1, 3]) {
        const lookup = await db.objects.findCacheObjects(cache.name, [hashes[first]!, hashes[4]!]);
        expect(lookup).toEqual({ cache: cacheRow, found: new Map([[hashes[4]!, all!.found.get(hashes[4]!)]]) });
      }
      expect(await db.objects.findCacheObjects(cache.name, [hashes[2]!, hashes[3]!])).toEqual({ cache: cacheRow, found: new Map() });
      expect(await db.objects.findCacheObjects(cache.name, [])).toEqual({ cache: cacheRow, found: new Map() });
      expect((await db.objects.findCacheObjects(other.name, hashes))?.found.size).toBe(10);

      expect(await db.objects.findCacheObjects(unique("absent"), hashes)).toBeNull();
      expect(await db.objects.findCacheObjects(unique("absent"), [])).toBeNull();
      await db.caches.destroyCache(cache.id, { soft: true, now: new Date() });
      expect(await db.objects.findCacheObjects(cache.name, hashes)).toBeNull();
    });

    it("answers findPresentPaths across batches: present, absent, pending, in another cache, repeated", async () => {
      // 6,000 hashes: several statements on engines that split the list (PostgreSQL: 2,500 each,
      // some of them at once).
      const hashes = Array.from({ length: 6000 }, (_, i) => storePathHash(i, 7));
      const kind = (i: number) => (i % 5 === 0 ? "present" : i % 5 === 1 ? "other" : i % 5 === 2 ? "pending" : "absent");
      const { cache, other } = await insertPlacedObjects(db, hashes, kind);
      const asked = [...hashes, ...hashes.slice(0, 100)];
      const expected = hashes.filter((_, i) => kind(i) === "present");
      expect(await db.objects.findPresentPaths(cache.name, asked)).toEqual(expected);
      expect(await db.objects.findPresentPaths(other.name, asked)).toEqual(hashes.filter((_, i) => kind(i) === "other"));
      expect(await db.objects.findPresentPaths(unique("absent"), asked)).toEqual([]);
    });

    it("answers findPresentPaths for 70,000 hashes (batched below every engine's parameter limit)", async () => {
      const cache = await insertCache(db);
      const other = await insertCache(db);
      const narId = await db.nars.insertNar(narRow());
      // More than SQLite's 32,766 and Postgres's 65,535 bind parameters; 1,667 of the first
      // 5,000 are present.
      const hashes = Array.from({ length: 70_000 }, (_, i) => storePathHash(i, 5));
      const present = hashes.filter((_, i) => i < 5000 && i % 3 === 1);
      await db.transaction(async (tx) => {
        for (const hash of present) await tx.objects.upsertObject(objectRow(cache.id, narId, hash));
        await tx.objects.upsertObject(objectRow(other.id, narId, hashes[0]!));
      });
      const reversed = [...hashes].reverse();
      expect(await db.objects.findPresentPaths(cache.name, reversed)).toEqual([...present].reverse());
      expect(await db.objects.findPresentPaths(other.name, hashes)).toEqual([hashes[0]]);
      expect(await db.objects.findPresentPaths(cache.name, [])).toEqual([]);
    });

    it("commits a transaction that resolves and rolls back one that throws", async () => {
      const kept = unique("cache");
      const value = await db.transaction(async (tx) => {
        await tx.caches.insertCache(cacheRow(kept));
        return 42;
      });
      expect(value).toBe(42);
      expect(await db.caches.findCache(kept)).not.toBeNull();

      const dropped = unique("cache");
      const nar = narRow();
      const boom = new Error("boom");
      const err = await db
        .transaction(async (tx) => {
          await tx.caches.insertCache(cacheRow(dropped));
          await tx.nars.insertNar(nar);
          expect(await tx.caches.findCache(dropped)).not.toBeNull();
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(err).toBe(boom);
      expect(await db.caches.findCache(dropped)).toBeNull();
      expect(await db.nars.findAndLockNar(nar.narHash)).toBeNull();
      expect(await db.caches.insertCache(cacheRow(dropped))).toBe(true);
    });

    it("commits concurrent read-then-write transactions through two handles", async (context) => {
      const openAnother = options.openAnother;
      if (!openAnother) return context.skip("openAnother is not given (no second handle on the same database)");
      const other = await openAnother(db);
      try {
        const chunk = await validChunk(db);
        const names = Array.from({ length: 40 }, () => unique("cache"));
        await Promise.all(
          names.map((name, i) =>
            (i % 2 === 0 ? db : other).transaction(async (tx) => {
              // A read first: SQLite's deferred transactions fail when they then write after the
              // other handle committed, instead of waiting for the lock.
              expect(await tx.caches.findCache(name)).toBeNull();
              expect(await tx.caches.insertCache(cacheRow(name))).toBe(true);
              const lease = await tx.leases.openLease(new Date(Date.now() + 60_000));
              await tx.leases.findAndLockChunks(lease, [chunk.chunkHash], "zstd");
              await tx.leases.closeLease(lease);
            }),
          ),
        );
        for (const name of names) expect(await other.caches.findCache(name)).not.toBeNull();
        expect((await db.chunks.findAndLockChunk(chunk.chunkHash, "zstd"))?.holdersCount).toBe(1); // every hold given back
      } finally {
        await other.close();
      }
    });

    it("round-trips timestamps in UTC with millisecond precision", async () => {
      const instants = [
        new Date(Date.UTC(2023, 0, 12, 10, 11, 12, 345)),
        new Date(Date.UTC(2024, 11, 31, 23, 59, 59, 999)),
        new Date(Date.UTC(2025, 6, 1, 0, 0, 0, 0)),
      ];
      for (const createdAt of instants) {
        const row = cacheRow(unique("cache"), { createdAt });
        await db.caches.insertCache(row);
        const found = await db.caches.findCache(row.name);
        expect(found?.createdAt).toBeInstanceOf(Date);
        expect(found?.createdAt.toISOString()).toBe(createdAt.toISOString());
      }
      const narCreated = new Date(Date.UTC(2022, 11, 27, 1, 2, 3, 4));
      const nar = narRow({ createdAt: narCreated });
      await db.nars.insertNar(nar);
      expect((await db.nars.findAndLockNar(nar.narHash))?.createdAt.toISOString()).toBe(narCreated.toISOString());
    });

    it("never loses an increment under concurrent findAndLockNar calls", async () => {
      const nar = narRow();
      const id = await db.nars.insertNar(nar);
      const results = await Promise.all(Array.from({ length: 10 }, () => db.nars.findAndLockNar(nar.narHash)));
      const found = results.filter((r) => r !== null);
      // Postgres may skip a row another statement is locking (Attic's SKIP LOCKED): such a call
      // finds nothing, but no call that found the row may lose its increment.
      if (db.kind !== "postgres") expect(found).toHaveLength(10);
      expect(found.length).toBeGreaterThan(0);
      expect(new Set(found.map((r) => r.holdersCount)).size).toBe(found.length);
      for (let i = 0; i < found.length; i++) await db.nars.releaseNar(id);
      expect((await db.nars.findAndLockNar(nar.narHash))?.holdersCount).toBe(1);
    });
  });
}

/** A valid, unheld zstd chunk. */
async function validChunk(db: Database): Promise<{ id: number; chunkHash: string }> {
  const row = chunkRow({ compression: "zstd" });
  const id = await db.chunks.insertPendingChunk(row);
  await db.chunks.markChunkValid(id, { fileHash: sha256Like(), fileSize: 10 });
  await db.chunks.releaseChunks([id]);
  return { id, chunkHash: row.chunkHash };
}
