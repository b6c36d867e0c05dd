import { rm, stat } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeCompressor } from "@attic-ts/compression";
import { collect, pseudoRandomBytes, slices } from "../../../test/helpers/data.ts";
import { ALL, startServer, type TestServer } from "./server.ts";
import { createCacheHttp, infoFor, narFixture, uploadViaHeader, type NarFixture } from "./fixtures.ts";

/**
 * Multi-chunk NAR downloads on local storage, where chunks are read in groups into reused
 * buffers and written by the route itself (sendReleasing): every download must get its own
 * bytes while the buffers go round, and a failure must never look like a complete NAR.
 */
let s: TestServer;
let f: NarFixture;
let stored: Buffer;
/** A NAR bigger than a loopback socket's buffers, so a client that stops reading holds the server's writes back. */
let big: NarFixture;
let bigStored: Buffer;
const decoder = new NativeCompressor({ workers: 1 });

beforeAll(async () => {
  f = await narFixture("koa-download", { "blob.bin": pseudoRandomBytes(4242, 3_000_000) });
  s = await startServer();
  const root = await s.token({ "*": ALL }, "root");
  await createCacheHttp(s.url, root, "pub", true);
  const res = await uploadViaHeader(s.url, root, infoFor(f, "pub"), f.nar);
  expect(res.status, await res.clone().text()).toBe(200);
  big = await narFixture("koa-download-big", { "blob.bin": pseudoRandomBytes(4243, 20_000_000) });
  const upload = await uploadViaHeader(s.url, root, infoFor(big, "pub"), big.nar);
  expect(upload.status, await upload.clone().text()).toBe(200);
  bigStored = Buffer.from(await (await fetch(narUrl(big))).arrayBuffer());
  expect((await collect(decoder.decompress("zstd", slices(bigStored, 65536)))).equals(big.nar)).toBe(true);
  const first = await fetch(narUrl());
  expect(first.status).toBe(200);
  stored = Buffer.from(await first.arrayBuffer());
  const plain = await collect(decoder.decompress("zstd", slices(stored, 65536)));
  expect(plain.equals(f.nar)).toBe(true);
});

afterAll(async () => {
  await s?.close();
  await decoder.close();
});

const narUrl = (fixture: NarFixture = f): string => `${s.url}/pub/nar/${fixture.hash}.nar`;

/** Where the `first` or `last` chunk file of `fixture`'s NAR is in local storage. */
async function chunkFile(fixture: NarFixture, which: "first" | "last"): Promise<string> {
  const row = await s.t
    .inspect("chunkref")
    .join("chunk", "chunk.id", "chunkref.chunk_id")
    .join("object", "object.nar_id", "chunkref.nar_id")
    .where("object.store_path_hash", fixture.hash)
    .orderBy("chunkref.seq", which === "first" ? "asc" : "desc")
    .first("chunk.remote_file");
  const name = (JSON.parse(row.remote_file) as { Local: { name: string } }).Local.name;
  return join(s.t.storagePath, name[0]!, name.slice(0, 2), name);
}

/** GETs the NAR, reads `limit` bytes, then drops the connection. */
function readSomeThenLeave(limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(narUrl(), { agent: false }, (res) => {
      let got = 0;
      res.on("data", (piece: Buffer) => {
        got += piece.length;
        if (got >= limit) {
          res.destroy();
          resolve(got);
        }
      });
      res.on("error", () => {});
    });
    req.on("error", reject);
  });
}

describe("multi-chunk NAR downloads (local storage)", () => {
  it("serves many downloads at once, each byte for byte", async () => {
    const chunkRows = await s.t.inspect("chunkref").join("object", "object.nar_id", "chunkref.nar_id").where("object.store_path_hash", f.hash).count({ n: "*" });
    expect(Number(chunkRows[0]!.n)).toBeGreaterThan(20);
    const downloads = await Promise.all(Array.from({ length: 8 }, async () => Buffer.from(await (await fetch(narUrl())).arrayBuffer())));
    for (const body of downloads) expect(body.equals(stored)).toBe(true);
  });

  it("a slow client gets its own bytes while faster downloads reuse the buffers", async () => {
    // The slow client stops reading now and then, so its socket fills and pieces wait in the
    // server's write queue: a buffer reused before its write completed would show up here.
    const slow = new Promise<Buffer>((resolve, reject) => {
      const req = httpGet(narUrl(big), { agent: false }, (res) => {
        const pieces: Buffer[] = [];
        let pauses = 0;
        res.pause();
        setTimeout(() => res.resume(), 300);
        res.on("data", (piece: Buffer) => {
          pieces.push(piece);
          if (pauses < 4 && pieces.length % 50 === 0) {
            pauses++;
            res.pause();
            setTimeout(() => res.resume(), 200);
          }
        });
        res.on("end", () => resolve(Buffer.concat(pieces)));
        res.on("error", reject);
      });
      req.on("error", reject);
    });
    const fast = (async () => {
      const bodies: Buffer[] = [];
      for (let round = 0; round < 6; round++) {
        bodies.push(...(await Promise.all(Array.from({ length: 3 }, async () => Buffer.from(await (await fetch(narUrl())).arrayBuffer())))));
      }
      return bodies;
    })();
    expect((await slow).equals(bigStored)).toBe(true);
    for (const body of await fast) expect(body.equals(stored)).toBe(true);
  });

  it("keeps serving whole NARs after clients leave in the middle", async () => {
    const left = await Promise.all(Array.from({ length: 6 }, (_, i) => readSomeThenLeave(100_000 + i * 50_000)));
    for (const got of left) expect(got).toBeLessThan(stored.length);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await Promise.all(Array.from({ length: 3 }, async () => Buffer.from(await (await fetch(narUrl())).arrayBuffer())));
    for (const body of after) expect(body.equals(stored)).toBe(true);
  });

  it("breaks the transfer, never ending it cleanly, when a chunk file is gone mid-NAR", async () => {
    // The NAR's last chunk: its file is removed, so the download fails after most bytes went out.
    const path = await chunkFile(f, "last");
    expect((await stat(path)).isFile()).toBe(true);
    await rm(path);
    const res = await fetch(narUrl());
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    // The server is fine afterwards.
    expect((await fetch(`${s.url}/pub/nix-cache-info`)).status).toBe(200);
  });

  it("answers Attic's JSON error when the first chunk file is gone, before any byte", async () => {
    await rm(await chunkFile(f, "first"));
    const res = await fetch(narUrl());
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toMatchObject({ code: 500 });
  });
});
