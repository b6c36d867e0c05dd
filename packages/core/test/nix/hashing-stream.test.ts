import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { HashingStream, hashAll } from "../../src/nix/hashing-stream.ts";
import { trackedSource } from "../../src/testing/fixtures.ts";

const HELLO = Buffer.from("hello world");
const HELLO_SHA256 = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

async function* slices(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length] as number;
    yield data.subarray(at, at + size);
    at += size;
  }
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

describe("HashingStream", () => {
  it.each([[[11]], [[1]], [[3]], [[0, 2, 5]], [[6, 0, 0, 5]], [[20]]])(
    "hashes hello world sliced as %j and passes it through",
    async (sizes) => {
      const stream = new HashingStream(slices(HELLO, sizes));
      expect(stream.finished).toBe(false);
      expect(() => stream.digest()).toThrow();
      expect((await collect(stream)).toString()).toBe("hello world");
      expect(stream.finished).toBe(true);
      expect(stream.digest().toHex()).toBe(HELLO_SHA256);
      expect(stream.size).toBe(11);
    },
  );

  it("passes the source's own arrays through", async () => {
    const parts = [Buffer.from("hello "), Buffer.from("world")];
    const seen: Uint8Array[] = [];
    for await (const p of new HashingStream(Readable.from(parts))) seen.push(p);
    expect(seen[0]).toBe(parts[0]);
    expect(seen[1]).toBe(parts[1]);
  });

  it("hashes large random data from a Node Readable", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const { hash, size } = await hashAll(Readable.from(slices(data, [65536, 1, 4097])));
    expect(size).toBe(data.length);
    expect(hash.toHex()).toBe(createHash("sha256").update(data).digest("hex"));
  });

  it("hashes an empty stream", async () => {
    const { hash, size } = await hashAll(slices(new Uint8Array(0), [1]));
    expect(size).toBe(0);
    expect(hash.toHex()).toBe(createHash("sha256").digest("hex"));
  });

  it("stops after exactly `limit` bytes without reading or closing the rest", async () => {
    let pulled = 0;
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for (const part of ["hello", " wor", "ld!!!", "never read"]) {
          pulled++;
          yield Buffer.from(part);
        }
      } finally {
        closed = true;
      }
    }
    const stream = new HashingStream(source(), { limit: 11 });
    expect((await collect(stream)).toString()).toBe("hello world");
    expect(stream.size).toBe(11);
    expect(stream.digest().toHex()).toBe(HELLO_SHA256);
    expect(pulled).toBe(3);
    expect(closed).toBe(false);
  });

  it("ends early when the source is shorter than the limit", async () => {
    const stream = new HashingStream(slices(HELLO, [4]), { limit: 100 });
    await collect(stream);
    expect(stream.size).toBe(11);
    expect(stream.digest().toHex()).toBe(HELLO_SHA256);
  });

  it("with limit 0 reads nothing", async () => {
    let pulled = false;
    const stream = new HashingStream(
      (async function* () {
        pulled = true;
        yield HELLO;
      })(),
      { limit: 0 },
    );
    expect((await collect(stream)).length).toBe(0);
    expect(pulled).toBe(false);
    expect(stream.digest().toHex()).toBe(createHash("sha256").digest("hex"));
  });

  it("closes the source when the consumer stops early, and has no digest then", async () => {
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield Buffer.from("a");
        yield Buffer.from("b");
      } finally {
        closed = true;
      }
    }
    const stream = new HashingStream(source());
    for await (const _ of stream) break;
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(true);
    expect(stream.finished).toBe(false);
    expect(() => stream.digest()).toThrow();
  });

  it("aborts a read that never completes and closes the source", async () => {
    const stuck = trackedSource([], { stall: true });
    const controller = new AbortController();
    const reason = new Error("client went away");
    const pending = collect(new HashingStream(stuck.source, { signal: controller.signal }));
    setTimeout(() => controller.abort(reason), 10);
    await expect(pending).rejects.toBe(reason);
    expect(stuck.closed).toBe(true);
  });

  it("refuses an already aborted signal and a second iteration", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    await expect(hashAll(slices(HELLO, [1]), { signal: controller.signal })).rejects.toThrow("gone");
    const stream = new HashingStream(slices(HELLO, [1]));
    await collect(stream);
    await expect(collect(stream)).rejects.toThrow(/once/);
    expect(() => new HashingStream(slices(HELLO, [1]), { limit: -1 })).toThrow(RangeError);
  });

  it("propagates source errors", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield HELLO;
      throw new Error("disk on fire");
    }
    await expect(hashAll(failing())).rejects.toThrow("disk on fire");
  });
});
