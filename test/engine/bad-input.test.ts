import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addFiles, dumpNar, uploadInfoFor } from "../helpers/nix.ts";
import { collect, pseudoRandomBytes, slices } from "../helpers/data.ts";
import { createCache, principal, ROOT, snapshot, startTestEngine, TEST_MATRIX, type TestEngine } from "../helpers/engine.ts";

let path: string;
let nar: Buffer;

beforeAll(async () => {
  path = await addFiles("bad-input", { "data.bin": pseudoRandomBytes(23, 600_000) });
  nar = await collect(dumpNar(path));
});

async function* thenFail(bytes: Uint8Array, after: number): AsyncGenerator<Uint8Array> {
  yield bytes.subarray(0, after);
  throw new Error("client went away");
}

const CHUNKINGS = [
  ["chunked", { "nar-size-threshold": 1, "min-size": 4096, "avg-size": 16384, "max-size": 65536 }],
  ["unchunked", { "nar-size-threshold": 0, "min-size": 4096, "avg-size": 16384, "max-size": 65536 }],
] as const;

// Every chunking mode in every database × storage combination. With S3, "nothing left
// behind" also means no object in the bucket (snapshot lists it).
const MATRIX = TEST_MATRIX.flatMap(([db, storage]) => CHUNKINGS.map(([mode, chunking]) => [mode, db, storage, chunking] as const));

describe.each(MATRIX)("bad uploads (%s; %s, %s) leave the database and storage as they were", (_mode, db, storage, chunking) => {
  let t: TestEngine;
  let baseline: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    t = await startTestEngine({ chunking }, { db, storage });
    await createCache(t.engine, "bad");
    baseline = await snapshot(t);
  });
  afterAll(async () => t?.close());

  const cases: Array<[string, (info: Record<string, unknown>) => [Record<string, unknown>, AsyncIterable<Uint8Array>], RegExp]> = [
    ["a wrong NAR hash", (i) => [{ ...i, nar_hash: `sha256:${"ab".repeat(32)}` }, slices(nar, 65536)], /Bad NAR Hash or Size/],
    ["a wrong NAR size", (i) => [{ ...i, nar_size: (i.nar_size as number) + 1 }, slices(nar, 65536)], /Bad NAR Hash or Size/],
    ["a truncated body", (i) => [i, slices(nar.subarray(0, nar.length - 100), 65536)], /Bad NAR Hash or Size/],
    ["an over-long body", (i) => [i, slices(Buffer.concat([nar, Buffer.from("trailing")]), 65536)], /Bad NAR Hash or Size/],
    ["a body that fails midway", (i) => [i, thenFail(nar, 300_000)], /client went away/],
    ["an invalid store path", (i) => [{ ...i, store_path: "/nix/store/not-a-store-path" }, slices(nar, 65536)], /store path/i],
    ["a store path that does not match its hash", (i) => [{ ...i, store_path_hash: "0".repeat(32) }, slices(nar, 65536)], /does not match/],
    ["an invalid store path hash", (i) => [{ ...i, store_path_hash: "E".repeat(32) }, slices(nar, 65536)], /hash/i],
    ["an invalid cache name", (i) => [{ ...i, cache: "not a cache" }, slices(nar, 65536)], /cache name/i],
    ["an unparseable NAR hash", (i) => [{ ...i, nar_hash: "md5:abc" }, slices(nar, 65536)], /hash/i],
    ["a missing field", (i) => [{ ...i, references: undefined }, slices(nar, 65536)], /references/],
  ];

  it.each(cases)("rejects %s", async (_name, mutate, message) => {
    const [info, body] = mutate(await uploadInfoFor("bad", path));
    await expect(t.engine.uploads.uploadPath(ROOT, info, body)).rejects.toThrow(message);
    expect(await snapshot(t)).toEqual(baseline);
  });

  it("cleans up after an upload aborted by its signal", async () => {
    const controller = new AbortController();
    async function* slowBody() {
      yield nar.subarray(0, 200_000);
      controller.abort(new Error("request aborted"));
      await new Promise((r) => setTimeout(r, 20));
      yield nar.subarray(200_000);
    }
    const info = await uploadInfoFor("bad", path);
    await expect(t.engine.uploads.uploadPath(ROOT, info, slowBody(), controller.signal)).rejects.toThrow();
    expect(await snapshot(t)).toEqual(baseline);
  });

  it("refuses a push without the push permission, reading nothing", async () => {
    const info = await uploadInfoFor("bad", path);
    const readOnly = principal("ro", { bad: { pull: true } });
    await expect(t.engine.uploads.uploadPath(readOnly, info, slices(nar, 65536))).rejects.toMatchObject({ code: "AccessError", discoveryPermission: true });
    const stranger = principal("x", { other: { pull: true, push: true } });
    await expect(t.engine.uploads.uploadPath(stranger, info, slices(nar, 65536))).rejects.toMatchObject({ code: "AccessError", discoveryPermission: false });
    await expect(t.engine.uploads.uploadPath(ROOT, { ...info, cache: "nope" }, slices(nar, 65536))).rejects.toMatchObject({ code: "NoSuchCache" });
    expect(await snapshot(t)).toEqual(baseline);
  });

  it("still accepts the correct upload afterwards", async () => {
    const info = await uploadInfoFor("bad", path);
    const result = await t.engine.uploads.uploadPath(ROOT, info, slices(nar, 65536));
    expect(result.kind).toBe("Uploaded");
    expect((await snapshot(t)).pendingOrHeld).toBe(0);
  });
});
